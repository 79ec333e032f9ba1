"""ALM-07: every red alarm, whatever raised it, and every change to it reaches the
external alarm receiving centres: one signed webhook message per active endpoint,
queued with the change. Drills never leave Lonewatch; amber alerts go once, as logged.
"""

import ipaddress
import json
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.contrib.auth.hashers import make_password

from lonewatch import clock
from lonewatch.alarms import actions
from lonewatch.alarms.models import Alarm, AlarmEvent
from lonewatch.notify import transports
from lonewatch.notify.actions import send_due
from lonewatch.notify.models import Delivery, WebhookEndpoint
from lonewatch.org.models import Organisation
from lonewatch.visits import actions as visits
from lonewatch.visits.models import SessionEvent

pytestmark = pytest.mark.django_db

ARC = "https://arc.example.test/in"
BACKUP = "https://backup-arc.example.test/in"


@pytest.fixture
def centres(trust, nina_ready, at):
    """Two active alarm-centre endpoints; one switched off; one of another trust.
    Olivia on duty; Nina with a check-out PIN (2468) and a duress PIN (9753)."""
    nina_ready.duress_pin_hash = make_password("9753")
    nina_ready.save()
    actions.do_duty(trust.people["olivia"], on=True, actor=trust.people["olivia"].user)
    WebhookEndpoint.objects.create(organisation=trust.org, name="ARC", url=ARC, secret="s")
    WebhookEndpoint.objects.create(organisation=trust.org, name="Backup", url=BACKUP,
                                   secret="s")
    WebhookEndpoint.objects.create(organisation=trust.org, name="Old",
                                   url="https://old-arc.example.test/in", secret="s",
                                   active=False)
    other = Organisation.objects.create(name="Another Trust")
    WebhookEndpoint.objects.create(organisation=other, name="Theirs",
                                   url="https://theirs.example.test/in", secret="s")
    return trust


def forwarded(**filters) -> list[Delivery]:
    return list(Delivery.objects.filter(channel="webhook", **filters).order_by("pk"))


def one_each(purpose: str) -> dict:
    """Exactly one message per active endpoint for this event; their common payload."""
    rows = forwarded(purpose=purpose)
    assert sorted(row.address for row in rows) == sorted([ARC, BACKUP]), purpose
    assert rows[0].payload == rows[1].payload
    for row in rows:
        # About the alarm, never the worker's session: its timeline never shows them.
        assert (row.about_kind, row.recipient_id) == ("alarm", None)
    return rows[0].payload


def olivia(trust):
    return trust.people["olivia"].user


# --- every kind of red alarm --------------------------------------------------------------


def _ordinary(trust, start_session, at):
    nina = trust.people["nina"]
    return actions.do_raise(nina, actor=nina.user, kind="red", lat=52.6661, lon=0.1596,
                            accuracy_m=15)


def _discreet(trust, start_session, at):
    nina = trust.people["nina"]
    return actions.do_raise(nina, actor=nina.user, kind="red", source="discreet")


def _device(trust, start_session, at):
    nina = trust.people["nina"]
    return actions.do_raise(nina, actor=nina.user, kind="red", source="device")


def _duress_at_check_out(trust, start_session, at):
    session = start_session(interval=900)
    visits.do_end_session(session, actor=trust.people["nina"].user, pin="9753")
    return Alarm.objects.get()


def _escalation_step(trust, start_session, at):
    from lonewatch.escalation import actions as engine
    from lonewatch.escalation.policy import do_set_policy

    do_set_policy(trust.north, [{"after_seconds": 0, "notify": "alarm_centre",
                                 "channels": ["in_app"]}], actor=None)
    start_session(interval=900)
    at(minutes=16)
    engine.start_due()
    engine.fire_due()
    engine.fire_due()
    return Alarm.objects.get()


@pytest.mark.parametrize(("raise_it", "source"), [
    (_ordinary, "app"), (_discreet, "discreet"), (_device, "device"),
    (_duress_at_check_out, "duress"), (_escalation_step, "escalation"),
])
def test_alm_07_every_red_alarm_is_forwarded_once_to_each_active_endpoint(
        centres, start_session, at, raise_it, source):
    alarm = raise_it(centres, start_session, at)
    assert (alarm.kind, alarm.source) == ("red", source)
    assert len(forwarded()) == 2  # nothing to the switched-off or the other trust's
    body = one_each("alarm_raised")
    raised = AlarmEvent.objects.get(alarm=alarm, kind__in=["raised", "duress"])
    assert (body["event"]["type"], body["event"]["id"]) == ("raised", raised.pk)
    assert body["event"]["at"] == clock.now().isoformat().replace("+00:00", "Z")
    assert body["event"]["summary"] == raised.summary
    facts = body["alarm"]
    assert (facts["id"], facts["kind"], facts["state"], facts["source"]) == (
        alarm.pk, "red", "raised", source)
    assert facts["duress"] is (source == "duress")
    assert facts["drill"] is False
    assert facts["worker"]["name"] == "Nina" and facts["worker"]["mobile"] == "+447700900100"
    assert facts["worker"]["team"] == "North"
    subject = forwarded()[0].subject
    assert subject == ("DURESS from Nina: raised" if source == "duress"
                       else "RED ALERT from Nina: raised")
    if source == "app":
        assert facts["location"]["lat"] == 52.6661 and facts["location"]["accuracy_m"] == 15
    if source in ("duress", "escalation"):
        assert facts["session"]["address"] == "12 Acacia Avenue, Wisbech"


def test_alm_07_duress_pin_at_cancel_is_forwarded_as_duress_not_as_a_cancel(centres):
    nina = centres.people["nina"]
    alarm = actions.do_raise(nina, actor=nina.user, kind="red")
    actions.do_cancel(alarm, actor=nina.user, pin="9753")
    one_each("alarm_raised")
    body = one_each("alarm_duress")
    assert body["event"]["type"] == "duress"
    assert (body["alarm"]["source"], body["alarm"]["duress"], body["alarm"]["state"]) == (
        "duress", True, "raised")
    assert "NOT cancelled" in forwarded(purpose="alarm_duress")[0].subject + \
        forwarded(purpose="alarm_duress")[0].body
    assert not forwarded(purpose="alarm_cancelled")
    assert len(forwarded()) == 4


def test_alm_07_each_re_alert_is_forwarded_once(centres, at, settings):
    settings.ALARM_ACK_SECONDS = 30
    nina = centres.people["nina"]
    alarm = actions.do_raise(nina, actor=nina.user, kind="red")
    at(seconds=30)
    assert actions.realert_due() == 1
    body = one_each("alarm_re_alert")
    assert (body["event"]["type"], body["alarm"]["realerts"]) == ("re_alert", 1)
    at(seconds=60)
    assert actions.realert_due() == 1
    assert len(forwarded(purpose="alarm_re_alert")) == 4
    actions.do_acknowledge(alarm, actor=olivia(centres))
    at(seconds=120)
    assert actions.realert_due() == 0
    assert len(forwarded(purpose="alarm_re_alert")) == 4


# --- every change to a red alarm ----------------------------------------------------------


def test_alm_07_each_change_is_forwarded_once_in_order(centres, at):
    nina, operator = centres.people["nina"], olivia(centres)
    alarm = actions.do_raise(nina, actor=nina.user, kind="red")
    at(seconds=5)
    actions.do_add_location(alarm, actor=nina.user, lat=52.67, lon=0.16, accuracy_m=8)
    at(seconds=9)
    actions.do_acknowledge(alarm, actor=operator, note="Listening")
    actions.do_assess(alarm, actor=operator)
    actions.do_escalate(alarm, actor=operator, to="emergency_services", reference="CAD-1234")
    actions.do_close(alarm, actor=operator, category="genuine_closed_safely")
    actions.do_flag_duress(alarm, actor=operator, note="Voice shaking")
    actions.do_recategorise(alarm, actor=centres.people["leslie"].user, category="genuine")

    expected = ["raised", "location", "acknowledged", "assessing", "escalated", "closed",
                "duress_suspected", "recategorised"]
    for event in expected:
        one_each(f"alarm_{event}")
    arc = [row.payload for row in forwarded(address=ARC)]
    assert [body["event"]["type"] for body in arc] == expected
    ids = [body["event"]["id"] for body in arc]
    assert ids == sorted(ids)  # a receiver can put them in order
    by_type = {body["event"]["type"]: body for body in arc}
    assert by_type["location"]["alarm"]["location"]["lat"] == 52.67
    acknowledged = by_type["acknowledged"]
    assert acknowledged["event"]["by"] == "Olivia"
    assert acknowledged["alarm"]["acknowledged_by"] == "Olivia"
    assert acknowledged["event"]["detail"] == {"seconds_to_acknowledge": 9.0}
    escalated = by_type["escalated"]["alarm"]
    assert escalated["escalated_to"] == ["emergency_services"]
    assert escalated["emergency_reference"] == "CAD-1234"
    closed = by_type["closed"]["alarm"]
    assert (closed["state"], closed["category"]) == ("closed", "genuine_closed_safely")
    assert by_type["duress_suspected"]["alarm"]["duress_suspected"] is True
    recategorised = by_type["recategorised"]
    assert recategorised["alarm"]["category"] == "genuine"
    assert recategorised["event"]["by"] == "Leslie"


def test_alm_07_a_cancel_with_the_workers_pin_is_forwarded_as_cancelled(centres):
    nina = centres.people["nina"]
    alarm = actions.do_raise(nina, actor=nina.user, kind="red")
    actions.do_cancel(alarm, actor=nina.user, pin="2468")
    body = one_each("alarm_cancelled")
    assert (body["alarm"]["state"], body["alarm"]["category"]) == ("closed", "false_alarm")
    assert body["alarm"]["worker_agreed"] is True
    assert not forwarded(purpose="alarm_closed")


# --- drills and amber alerts ----------------------------------------------------------------


def test_alm_07_drills_never_leave_lonewatch(centres, start_session):
    nina, operator = centres.people["nina"], olivia(centres)
    alarm = actions.do_raise(nina, actor=nina.user, kind="red", drill=True)
    actions.do_acknowledge(alarm, actor=operator)
    actions.do_escalate(alarm, actor=operator, to="escalation_point")
    actions.do_close(alarm, actor=operator, category="genuine")
    amber = actions.do_raise(nina, actor=nina.user, kind="amber", drill=True)
    assert amber.drill
    assert forwarded() == []


def test_alm_07_amber_alert_is_forwarded_once_as_logged(centres):
    nina = centres.people["nina"]
    actions.do_raise(nina, actor=nina.user, kind="amber", message="Dog in the house",
                     lat=52.6, lon=0.2)
    body = one_each("alarm_amber_logged")
    assert body["event"]["type"] == "amber_logged"
    assert (body["alarm"]["kind"], body["alarm"]["state"]) == ("amber", "logged")
    assert body["alarm"]["message"] == "Dog in the house"
    assert forwarded()[0].subject == "Amber alert from Nina: logged (no action needed)"
    assert len(forwarded()) == 2


# --- on the wire ----------------------------------------------------------------------------


@contextmanager
def local_centre(settings, monkeypatch):
    """An alarm centre's receiver on this machine, allowed as an operator would."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    settings.WEBHOOK_ALLOW_HTTP = True
    settings.WEBHOOK_ALLOWED_NETWORKS = (ipaddress.ip_network("127.0.0.1/32"),)
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length", 0))
            received.append((dict(self.headers), self.rfile.read(length)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, format, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/alarms", received
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def test_alm_07_centre_receives_signed_duress_alarm_and_the_workers_timeline_shows_nothing(
        trust, nina_ready, start_session, settings, monkeypatch):
    nina_ready.duress_pin_hash = make_password("9753")
    nina_ready.save()
    with local_centre(settings, monkeypatch) as (url, received):
        WebhookEndpoint.objects.create(organisation=trust.org, name="ARC", url=url,
                                       secret="centre-secret")
        session = start_session(interval=900)
        before = list(SessionEvent.objects.filter(session=session).values_list("kind",
                                                                                flat=True))
        visits.do_end_session(session, actor=nina_ready.user, pin="9753")
        send_due()
        [row] = forwarded()
        row.refresh_from_db()
        assert row.status == Delivery.Status.SENT

    [(headers, raw)] = received
    timestamp = headers["X-Lonewatch-Timestamp"]
    assert headers["X-Lonewatch-Signature"] == transports.sign("centre-secret", timestamp, raw)
    body = json.loads(raw)
    assert body["id"] == str(row.idempotency_key) and body["purpose"] == "alarm_raised"
    assert body["event"]["type"] == "raised"
    assert body["alarm"]["source"] == "duress" and body["alarm"]["duress"] is True
    assert body["alarm"]["worker"]["name"] == "Nina"
    # The worker's session timeline reads as an ordinary check-out: no line about it.
    after = list(SessionEvent.objects.filter(session=session).values_list("kind", flat=True))
    assert after == [*before, "ended"]
