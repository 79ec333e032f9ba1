"""ALM-01 … ALM-06 and MOV-04: amber and red alerts, their lifecycle, re-alerts, duress."""

from datetime import timedelta

import pytest
from django.contrib.auth.hashers import make_password

from lonewatch import clock
from lonewatch.alarms import actions
from lonewatch.alarms.models import Alarm
from lonewatch.notify.models import Delivery
from lonewatch.visits import actions as visits
from lonewatch.visits.actions import close
from tests.conftest import token_for


def bearer(person):
    return {"Authorization": f"Bearer {token_for(person)}"}


@pytest.fixture
def desk(trust, nina_ready):
    """Olivia on duty at the alarm centre; Nina with a PIN and a duress PIN."""
    nina_ready.duress_pin_hash = make_password("9753")
    nina_ready.save()
    actions.do_duty(trust.people["olivia"], on=True, actor=trust.people["olivia"].user)
    return {"nina": bearer(nina_ready), "olivia": bearer(trust.people["olivia"]),
            "leslie": bearer(trust.people["leslie"]), "ben": bearer(trust.people["ben"])}


def post(client, url, headers, body=None):
    return client.post(url, body or {}, content_type="application/json", headers=headers)


def test_alm_01_amber_is_logged_with_location_and_raises_nothing_loud(client, trust, desk):
    response = post(client, "/api/v1/ambers", desk["nina"],
                    {"message": "Entering a house with a dog", "lat": 52.6, "lon": 0.2})
    assert response.status_code == 201
    body = response.json()
    assert body["kind"] == "amber" and body["state"] == "logged" and body["lat"] == 52.6
    assert not Delivery.objects.exists()
    assert post(client, f"/api/v1/alarms/{body['id']}/acknowledge", desk["olivia"]
                ).status_code == 409


def test_alm_02_red_is_committed_and_reaches_the_operators_on_duty(client, trust, desk,
                                                                   start_session):
    session = start_session(interval=900)
    response = post(client, "/api/v1/alarms", desk["nina"], {"lat": 52.6, "lon": 0.2,
                                                             "accuracy_m": 20})
    assert response.status_code == 201
    alarm = Alarm.objects.get(pk=response.json()["id"])
    assert (alarm.kind, alarm.state, alarm.session) == ("red", "raised", session)
    told = Delivery.objects.filter(purpose="alarm_raised", channel="in_app")
    assert [d.recipient.username for d in told] == ["olivia"]
    assert "RED ALERT from Nina" in told.get().subject


def test_alm_03_lifecycle_with_illegal_transitions_refused(client, trust, desk):
    aid = post(client, "/api/v1/alarms", desk["nina"]).json()["id"]
    url = f"/api/v1/alarms/{aid}"
    assert post(client, f"{url}/assess", desk["olivia"]).status_code == 409
    assert post(client, f"{url}/acknowledge", desk["ben"]).status_code in (403, 404)
    assert post(client, f"{url}/acknowledge", desk["nina"]).status_code == 403  # own alarm
    assert post(client, f"{url}/acknowledge", desk["olivia"]).json()["state"] == "acknowledged"
    assert post(client, f"{url}/acknowledge", desk["olivia"]).status_code == 409
    assert post(client, f"{url}/assess", desk["olivia"]).json()["state"] == "assessing"
    missing = post(client, f"{url}/escalate", desk["olivia"], {"to": "emergency_services"})
    assert missing.status_code == 400 and "reference" in missing.json()["detail"]
    escalated = post(client, f"{url}/escalate", desk["olivia"],
                     {"to": "emergency_services", "reference": "CAD-1234"})
    assert escalated.json()["emergency_reference"] == "CAD-1234"
    closed = post(client, f"{url}/close", desk["olivia"], {"category": "genuine"})
    assert closed.json()["state"] == "closed"
    assert post(client, f"{url}/close", desk["olivia"], {"category": "genuine"}
                ).status_code == 409
    timeline = client.get(url, headers=desk["olivia"]).json()["timeline"]
    # The test trust keeps no email addresses: the incident email fails at once, and the
    # alarm centre sees that on the timeline.
    assert [e["kind"] for e in timeline] == ["raised", "acknowledged", "assessing",
                                             "escalated", "closed", "delivery_failed"]
    # ALM-06: the security manager is told of every recorded incident.
    assert Delivery.objects.filter(purpose="incident_recorded",
                                   recipient=trust.people["leslie"]).exists()


def test_alm_04_unacknowledged_red_re_alerts_operators_and_supervisor(client, trust, desk,
                                                                      time_machine, settings):
    settings.ALARM_ACK_SECONDS = 30
    time_machine.move_to("2026-11-23 09:00:00+00:00", tick=False)
    aid = post(client, "/api/v1/alarms", desk["nina"]).json()["id"]
    time_machine.shift(timedelta(seconds=29))
    assert actions.realert_due() == 0
    time_machine.shift(timedelta(seconds=1))
    assert actions.realert_due() == 1
    again = Delivery.objects.filter(purpose="alarm_realert", channel="in_app")
    assert {d.recipient.username for d in again} == {"olivia", "leslie"}
    time_machine.shift(timedelta(seconds=30))
    assert actions.realert_due() == 1
    assert Alarm.objects.get(pk=aid).realerts == 2
    post(client, f"/api/v1/alarms/{aid}/acknowledge", desk["olivia"])
    time_machine.shift(timedelta(minutes=5))
    assert actions.realert_due() == 0


def test_alm_05_false_alarm_needs_the_workers_agreement_and_duress_can_be_flagged(
        client, trust, desk):
    aid = post(client, "/api/v1/alarms", desk["nina"]).json()["id"]
    url = f"/api/v1/alarms/{aid}"
    post(client, f"{url}/acknowledge", desk["olivia"])
    refused = post(client, f"{url}/close", desk["olivia"], {"category": "false_alarm"})
    assert refused.status_code == 400 and "agreement" in refused.json()["detail"]
    post(client, f"{url}/close", desk["olivia"], {"category": "false_alarm",
                                                  "worker_agreed": True})
    flagged = post(client, f"{url}/flag-duress", desk["olivia"], {"note": "Voice shaking"})
    assert flagged.json()["duress_suspected"] is True
    assert Delivery.objects.filter(purpose="duress_suspected",
                                   recipient=trust.people["leslie"]).exists()
    assert post(client, f"{url}/recategorise", desk["olivia"], {"category": "genuine"}
                ).status_code == 403
    changed = post(client, f"{url}/recategorise", desk["leslie"], {"category": "genuine"})
    assert changed.status_code == 200 and changed.json()["category"] == "genuine"


def test_mov_04_cancel_with_duress_pin_answers_like_the_real_pin(client, trust, desk):
    real = post(client, "/api/v1/alarms", desk["nina"]).json()["id"]
    forced = post(client, "/api/v1/alarms", desk["nina"]).json()["id"]
    a = post(client, f"/api/v1/alarms/{real}/cancel", desk["nina"], {"pin": "2468"})
    b = post(client, f"/api/v1/alarms/{forced}/cancel", desk["nina"], {"pin": "9753"})
    assert a.status_code == b.status_code == 200
    assert a.json().keys() == b.json().keys() and a.json()["cancelled"] is b.json()["cancelled"]
    assert Alarm.objects.get(pk=real).state == "closed"
    forced_alarm = Alarm.objects.get(pk=forced)
    assert forced_alarm.state == "raised" and forced_alarm.source == "duress"
    assert forced_alarm.next_realert_at is not None  # the alarm centre keeps being told
    wrong = post(client, f"/api/v1/alarms/{real}/cancel", desk["nina"], {"pin": "0000"})
    assert wrong.status_code == 409  # already closed


def test_mov_04_check_out_with_duress_pin_looks_normal_and_raises_a_silent_alarm(
        trust, desk, start_session):
    session = start_session(interval=900)
    visits.do_end_session(session, actor=trust.people["nina"].user, pin="9753")
    session.refresh_from_db()
    assert session.state == "ended"
    alarm = Alarm.objects.get()
    assert (alarm.kind, alarm.state, alarm.source) == ("red", "raised", "duress")
    assert alarm.next_realert_at <= clock.now()
    assert actions.realert_due() == 1


@pytest.mark.parametrize(("body", "message"), [
    ({"lat": 91, "lon": 0}, "Latitude"), ({"lat": 52}, "lon"),
])
def test_alm_02_bad_locations_are_refused_and_change_nothing(client, trust, desk, body,
                                                             message):
    aid = post(client, "/api/v1/alarms", desk["nina"]).json()["id"]
    response = post(client, f"/api/v1/alarms/{aid}/locations", desk["nina"], body)
    assert response.status_code == 400 and message in response.json()["detail"]
    assert Alarm.objects.get(pk=aid).lat is None


def test_org_03_buddy_sees_only_the_alarms_of_the_session_being_watched(client, trust, desk,
                                                                         start_session):
    """Q-SEC, ORG-03: the buddy sees a worker's alerts only while watching a running
    session, and only that session's: not the worker's history, not what they raised
    before or after."""
    before = post(client, "/api/v1/ambers", desk["nina"], {"message": "dog"}).json()["id"]
    assert client.get(f"/api/v1/alarms/{before}", headers=desk["ben"]).status_code == 404
    session = start_session(interval=900)
    during = post(client, "/api/v1/ambers", desk["nina"], {"message": "gate"}).json()["id"]
    assert client.get(f"/api/v1/alarms/{during}", headers=desk["ben"]).status_code == 200
    assert client.get(f"/api/v1/alarms/{before}", headers=desk["ben"]).status_code == 404
    listed = {a["id"] for a in client.get("/api/v1/alarms", headers=desk["ben"]).json()}
    assert during in listed and before not in listed
    otto = bearer(trust.people["otto"])
    assert client.get(f"/api/v1/alarms/{during}", headers=otto).status_code == 404
    close(session, clock.now())
    assert client.get(f"/api/v1/alarms/{during}", headers=desk["ben"]).status_code == 404


def test_alm_02_an_escalation_step_for_the_alarm_centre_arrives_as_an_alarm(trust, desk,
                                                                           start_session,
                                                                           time_machine):
    from lonewatch.escalation import actions as engine
    from lonewatch.escalation.policy import do_set_policy

    do_set_policy(trust.north, [{"after_seconds": 0, "notify": "alarm_centre",
                                 "channels": ["in_app"]}], actor=None)
    session = start_session(interval=900)
    time_machine.move_to(clock.now() + timedelta(minutes=16), tick=False)
    engine.start_due()
    engine.fire_due()
    engine.fire_due()
    alarm = Alarm.objects.get()
    assert (alarm.kind, alarm.source, alarm.session) == ("red", "escalation", session)
    assert Delivery.objects.filter(recipient=trust.people["olivia"],
                                   purpose="escalation_step_1").exists()


def test_mov_04_worker_sets_a_duress_pin_that_differs_from_the_pin(trust, nina_ready,
                                                                  as_person):
    client = as_person(nina_ready)
    same = client.post("/profile/duress-pin", {"pin": "2468"}, follow=True)
    assert "must be different" in same.content.decode()
    nina_ready.refresh_from_db()
    assert not nina_ready.duress_pin_hash
    client.post("/profile/duress-pin", {"pin": "9753"})
    nina_ready.refresh_from_db()
    assert nina_ready.duress_pin_hash
    again = client.post("/profile/pin", {"pin": "9753"}, follow=True)
    assert "must be different" in again.content.decode()


def test_alm_02_event_stream_sends_each_change_and_resumes_after_last_event_id(
        transactional_db, client, trust, desk, settings):
    # transactional_db: the stream's hub reads committed rows from its own thread.
    from lonewatch.alarms import stream

    settings.ALARM_STREAM_POLL_SECONDS = 0.01
    olivia = trust.people["olivia"].user
    live = stream.events(olivia, None, seconds=5)
    assert next(live) == "retry: 1000\n\n"
    assert next(live) == ":\n\n"  # nothing new yet
    aid = post(client, "/api/v1/alarms", desk["nina"], {"lat": 52.6, "lon": 0.2}).json()["id"]
    first = next(live)
    assert first.startswith("id: ") and "event: alarm.raised" in first
    assert f'"id": {aid}' in first and '"name": "Nina"' in first
    seen = int(first.split("\n")[0].removeprefix("id: "))
    # The console is away while the alarm is acknowledged, then reconnects.
    post(client, f"/api/v1/alarms/{aid}/acknowledge", desk["olivia"])
    resumed = stream.events(olivia, str(seen), seconds=5)
    next(resumed)
    missed = next(resumed)
    assert "event: alarm.acknowledged" in missed and '"state": "acknowledged"' in missed
    # Someone who may not see the alarm gets nothing about it.
    otto = stream.events(trust.people["otto"].user, str(seen - 1), seconds=5)
    next(otto)
    assert next(otto) == ":\n\n"


def test_alm_02_api_event_stream_is_server_sent_events(client, trust, desk):
    response = client.get("/api/v1/alarms/events", headers=desk["olivia"])
    assert response.status_code == 200 and response["Content-Type"] == "text/event-stream"
    assert next(iter(response.streaming_content)) == b"retry: 1000\n\n"


def test_alm_03_console_shows_loudest_first_and_handles_an_alarm(client, trust, desk,
                                                                 as_person):
    post(client, "/api/v1/ambers", desk["nina"], {"message": "dog"})
    aid = post(client, "/api/v1/alarms", desk["nina"]).json()["id"]
    console = as_person(trust.people["olivia"], verified=True)
    page = console.get("/console/").content.decode()
    assert page.index("Red alerts waiting (1)") < page.index("Amber alerts")
    assert "data-loud" in page and "On duty" in page
    console.post(f"/console/alarms/{aid}/acknowledge")
    console.post(f"/console/alarms/{aid}/close", {"category": "false_alarm"})
    assert Alarm.objects.get(pk=aid).state == "acknowledged"  # refused: no agreement
    console.post(f"/console/alarms/{aid}/close", {"category": "false_alarm",
                                                  "worker_agreed": "yes"})
    assert Alarm.objects.get(pk=aid).state == "closed"
    assert as_person(trust.people["maria"]).get("/console/").status_code == 403


def test_mov_04_cancel_on_the_page_reads_the_same_for_both_pins(trust, desk, as_person):
    client = as_person(trust.people["nina"])
    pages = []
    for pin in ("2468", "9753"):
        client.post("/my-day/alert/red")
        alarm = Alarm.objects.order_by("-pk").first()
        page = client.post(f"/my-day/alarms/{alarm.pk}/cancel", {"pin": pin}, follow=True)
        pages.append(page.content.decode().count("Alarm cancelled."))
    assert pages == [1, 1]
    real, forced = Alarm.objects.order_by("pk")
    assert (real.state, forced.state, forced.source) == ("closed", "raised", "duress")
    amber = client.post("/my-day/alert/amber", {"message": "Going in"}, follow=True)
    assert "Amber alert logged" in amber.content.decode()


def test_alm_07_red_alarm_forwarded_by_webhook_and_accepted_from_a_device(client, trust, desk):
    from lonewatch.notify.models import WebhookEndpoint

    WebhookEndpoint.objects.create(organisation=trust.org, name="ARC",
                                   url="https://arc.example.invalid/in", secret="s" * 32)
    body = post(client, "/api/v1/alarms", desk["nina"], {"device": True}).json()
    assert body["source"] == "device"
    hook = Delivery.objects.get(channel="webhook")
    assert hook.purpose == "alarm_raised" and hook.address == "https://arc.example.invalid/in"


def test_alm_03_bs_8484_answer_times_and_monthly_figures(trust, desk, as_person, time_machine):
    from lonewatch.alarms.report import figures

    time_machine.move_to("2026-11-20 10:00:00+00:00", tick=False)
    olivia = trust.people["olivia"].user
    nina = trust.people["nina"]
    for seconds in (5, 8, 9, 30, 50):
        alarm = actions.do_raise(nina, actor=nina.user, kind="red")
        time_machine.shift(timedelta(seconds=seconds))
        actions.do_acknowledge(alarm, actor=olivia)
        actions.do_close(alarm, actor=olivia, category="false_alarm", worker_agreed=True)
    drill = actions.do_raise(nina, actor=nina.user, kind="red", drill=True)
    actions.do_raise(nina, actor=nina.user, kind="amber")
    result = figures(list(Alarm.objects.filter(drill=False)))
    assert result["reds"] == 5 and result["within10"] == 60.0 and result["within40"] == 80.0
    november = result["months"][-1]
    assert (november.red, november.amber, november.false, november.false_rate) == (5, 1, 5,
                                                                                   100.0)
    assert november.ack_p95 == 50.0 and round(november.ack_mean, 1) == 20.4
    client = as_person(trust.people["leslie"], verified=True)
    page = client.get("/reports/alarms").content.decode()
    assert "60.0%" in page and "Not met" in page and drill.pk
    csv_text = client.get("/reports/alarms?format=csv").content.decode()
    assert csv_text.splitlines()[-1].startswith("Nov 2026,5,1,0,0,5,100.0,20.4,50.0")
    assert as_person(trust.people["nina"]).get("/reports/alarms").status_code == 403


def test_alm_03_report_has_twelve_consecutive_months(db, time_machine):
    from lonewatch.alarms.report import figures

    time_machine.move_to("2027-03-01 10:00:00+00:00", tick=False)
    labels = [m.label for m in figures([])["months"]]
    assert labels[0] == "Apr 2026" and labels[-1] == "Mar 2027" and "Feb 2027" in labels
    assert len(set(labels)) == 12


WEBM = b"\x1a\x45\xdf\xa3" + b"header-and-first-cluster"


def _chunk(client, headers, aid, seq, data, content_type="audio/webm"):
    return client.post(f"/api/v1/alarms/{aid}/audio?seq={seq}", data,
                       content_type=content_type, headers=headers)


def test_alm_02_audio_chunks_out_of_order_or_twice_build_one_recording(client, trust, desk,
                                                                      settings, tmp_path):
    settings.DATA_DIR = tmp_path
    aid = post(client, "/api/v1/alarms", desk["nina"]).json()["id"]
    parts = [WEBM, b"-cluster-1-", b"-cluster-2-", b"-cluster-3-"]
    for seq in (0, 2, 1, 2, 3, 1):  # late, out of order, and twice
        response = _chunk(client, desk["nina"], aid, seq, parts[seq])
        assert response.status_code == 201, response.content
    played = client.get(f"/api/v1/alarms/{aid}/recording", headers=desk["olivia"])
    assert played.status_code == 200 and played["Content-Type"] == "audio/webm"
    assert played.content == b"".join(parts) and played["X-Chunks-Waiting"] == "0"
    from lonewatch.core.models import AuditEvent

    assert AuditEvent.objects.filter(action="alarm.recording.read").count() == 1
    clash = _chunk(client, desk["nina"], aid, 2, b"-something-else-")
    assert clash.status_code == 409


def test_alm_02_recording_plays_while_it_grows(client, trust, desk, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    aid = post(client, "/api/v1/alarms", desk["nina"]).json()["id"]
    _chunk(client, desk["nina"], aid, 0, WEBM)
    _chunk(client, desk["nina"], aid, 2, b"-later-")
    played = client.get(f"/api/v1/alarms/{aid}/recording", headers=desk["olivia"])
    assert played.content == WEBM and played["X-Chunks-Waiting"] == "1"
    assert client.get(f"/api/v1/alarms/{aid}/recording", headers=desk["ben"]).status_code in (
        403, 404)


@pytest.mark.parametrize(("make", "status", "message"), [
    (lambda: (b"\x00" * (50 * 1024 * 1024), "audio/webm"), 413, "at most"),
    (lambda: (b"%PDF-1.7 not audio", "application/pdf"), 415, "not audio"),
    (lambda: (b"plain text pretending", "audio/webm"), 415, "does not look like"),
])
def test_alm_02_bad_audio_is_refused_and_changes_nothing(client, trust, desk, settings,
                                                         tmp_path, make, status, message):
    settings.DATA_DIR = tmp_path
    aid = post(client, "/api/v1/alarms", desk["nina"]).json()["id"]
    data, content_type = make()
    response = _chunk(client, desk["nina"], aid, 0, data, content_type)
    assert response.status_code == status and message in response.json()["detail"]
    from lonewatch.alarms.models import AudioChunk

    assert not AudioChunk.objects.exists() and not list(tmp_path.rglob("*.part"))


def test_alm_02_no_audio_for_a_closed_alarm(client, trust, desk, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    aid = post(client, "/api/v1/alarms", desk["nina"]).json()["id"]
    post(client, f"/api/v1/alarms/{aid}/cancel", desk["nina"], {"pin": "2468"})
    response = _chunk(client, desk["nina"], aid, 0, WEBM)
    assert response.status_code == 409 and "not open" in response.json()["detail"]


def test_alm_06_security_manager_told_of_every_recorded_incident_and_no_other(trust, desk):
    olivia = trust.people["olivia"].user
    nina = trust.people["nina"]
    outcomes = [("genuine", False, 1), ("genuine_closed_safely", False, 1),
                ("false_alarm", False, 0), ("genuine", True, 0)]
    for category, drill, told in outcomes:
        Delivery.objects.filter(purpose="incident_recorded").delete()
        alarm = actions.do_raise(nina, actor=nina.user, kind="red", drill=drill)
        actions.do_acknowledge(alarm, actor=olivia)
        actions.do_close(alarm, actor=olivia, category=category, worker_agreed=True)
        sent = Delivery.objects.filter(purpose="incident_recorded", channel="in_app")
        assert sent.count() == told, (category, drill)
        if told:
            assert sent.get().recipient == trust.people["leslie"]


def test_alm_02_each_time_the_recording_grows_the_consoles_are_told(client, trust, desk,
                                                                   settings, tmp_path):
    settings.DATA_DIR = tmp_path
    aid = post(client, "/api/v1/alarms", desk["nina"]).json()["id"]
    parts = [WEBM, b"-cluster-1-", b"-cluster-2-", b"-cluster-3-"]
    for seq in (0, 2, 2, 1, 3):  # the chunk behind the gap tells nobody until it fills
        assert _chunk(client, desk["nina"], aid, seq, parts[seq]).status_code == 201
    told = Alarm.objects.get(pk=aid).events.filter(kind="audio")
    assert [e.data["playable"] for e in told] == [1, 3, 4]
    assert told.last().summary == "Audio received: 4 parts of the recording can be played"


def test_alm_02_console_plays_the_recording_signed_in_with_its_second_factor_audited(
        client, trust, desk, settings, tmp_path):
    from django.test import Client

    from lonewatch.core.models import AuditEvent
    from tests.conftest import login

    settings.DATA_DIR = tmp_path
    aid = post(client, "/api/v1/alarms", desk["nina"]).json()["id"]
    _chunk(client, desk["nina"], aid, 0, WEBM)
    url = f"/api/v1/alarms/{aid}/recording"
    # The console's own sign-in: without the second factor an operator hears nothing.
    assert login(Client(), trust.people["olivia"]).get(url).status_code == 401
    played = login(Client(), trust.people["olivia"], verified=True).get(url)
    assert played.status_code == 200 and played.content == WEBM
    assert played["Cache-Control"] == "no-store"
    assert login(Client(), trust.people["ben"]).get(url).status_code in (403, 404)
    assert Client().get(url).status_code == 401
    reads = AuditEvent.objects.filter(action="alarm.recording.read")
    assert [r.actor.username for r in reads] == ["olivia"]


def test_alm_02_console_map_uses_the_configured_tiles_or_none(trust, desk, as_person,
                                                              settings):
    console = as_person(trust.people["olivia"], verified=True)
    page = console.get("/console/").content.decode()
    assert 'data-tiles=""' in page and "vendor/leaflet/leaflet.js" in page
    settings.MAP_TILE_URL = "https://tiles.example.nhs.uk/{z}/{x}/{y}.png"
    settings.MAP_ATTRIBUTION = "Map data © OpenStreetMap contributors"
    page = console.get("/console/").content.decode()
    assert 'data-tiles="https://tiles.example.nhs.uk/{z}/{x}/{y}.png"' in page
    assert 'data-attribution="Map data © OpenStreetMap contributors"' in page


def test_alm_01_buddy_sees_the_amber_of_the_worker_they_watch(trust, start_session):
    """An amber is logged, visible to the buddy (while they watch) and raises nothing loud."""
    from django.test import Client

    from lonewatch.alarms.actions import do_raise
    from lonewatch.notify.models import Delivery
    from tests.conftest import login

    start_session(interval=600)
    nina = trust.people["nina"]
    do_raise(nina, actor=nina.user, kind="amber", message="Dog loose in the garden")
    assert not Delivery.objects.filter(purpose="alarm_raised").exists()
    page = login(Client(), trust.people["ben"]).get("/buddy/").content.decode()
    assert "Amber alert" in page and "Dog loose in the garden" in page
    other = login(Client(), trust.people["sol"]).get("/buddy/").content.decode()
    assert "Dog loose in the garden" not in other


def test_alm_02_discreet_trigger_raises_a_silent_red_alert_that_shows_nothing(trust, desk,
                                                                              as_person):
    """The page's discreet trigger reads as an everyday message: the alarm centre gets a
    red alert, the worker's screen says only that it was sent, with no cancel box."""
    client = as_person(trust.people["nina"])
    page = client.post("/my-day/alert/red", {"discreet": "1"}, follow=True).content.decode()
    alarm = Alarm.objects.get()
    assert (alarm.kind, alarm.source, alarm.state) == ("red", "discreet", "raised")
    assert Delivery.objects.filter(purpose="alarm_raised",
                                   recipient=trust.people["olivia"]).exists()
    assert "Sent to the office." in page
    assert "Red alert" not in page and "Cancel it with your PIN" not in page
    assert "Recording" not in page


def test_alm_02_console_shows_who_what_where_and_next_of_kin_while_the_alarm_is_open(
        client, trust, desk, as_person, start_session):
    """The operator sees the worker's description, vehicle, planned visit and last
    check-ins; next of kin only while a red alarm is open, and every showing audited."""
    from lonewatch.core.models import AuditEvent
    from lonewatch.org.models import NextOfKin
    from lonewatch.visits import actions as visit_actions

    nina = trust.people["nina"]
    nina.description = "Tall, short grey hair, navy uniform"
    nina.vehicle_description = "Blue Corsa AB12 CDE"
    nina.location_consent_at = clock.now()
    nina.save()
    NextOfKin.objects.create(person=nina, name="Sam Green", relationship="Partner",
                             phone="+447700900555")
    session = start_session(interval=600)
    visit_actions.do_check_in(session, actor=nina.user, lat=52.66, lon=0.16, accuracy_m=12)
    console = as_person(trust.people["olivia"], verified=True)
    assert console.get(f"/people/{nina.pk}/next-of-kin").status_code == 403  # no alarm yet
    aid = post(client, "/api/v1/alarms", desk["nina"]).json()["id"]
    page = console.get("/console/").content.decode()
    for fact in ("Tall, short grey hair, navy uniform", "Blue Corsa AB12 CDE",
                 "12 Acacia Avenue", "52.66000, 0.16000 (±12 m)", "Show next of kin"):
        assert fact in page, fact
    kin = console.get(f"/people/{nina.pk}/next-of-kin")
    assert kin.status_code == 200 and "+447700900555" in kin.content.decode()
    assert AuditEvent.objects.filter(action__contains="kin",
                                     actor=trust.people["olivia"].user).count() == 1
    console.post(f"/console/alarms/{aid}/acknowledge")
    console.post(f"/console/alarms/{aid}/close", {"category": "genuine_closed_safely"})
    other = as_person(trust.people["olivia"], verified=True)  # a fresh request's grants
    assert other.get(f"/people/{nina.pk}/next-of-kin").status_code == 403


def test_mov_04_the_two_pins_are_digits_and_differ(trust):
    from django.contrib.auth.hashers import check_password

    from lonewatch.visits.actions import SessionError, do_set_duress_pin, do_set_pin

    nina = trust.people["nina"]
    do_set_pin(nina, pin="2468", actor=nina.user)
    with pytest.raises(SessionError, match="Your duress PIN must be 4 to 8 digits."):
        do_set_duress_pin(nina, pin="12a4", actor=nina.user)
    with pytest.raises(SessionError, match="must be different from your check-out PIN"):
        do_set_duress_pin(nina, pin="2468", actor=nina.user)
    do_set_duress_pin(nina, pin="9753", actor=nina.user)
    with pytest.raises(SessionError, match="must be different from your duress PIN"):
        do_set_pin(nina, pin="9753", actor=nina.user)
    nina.refresh_from_db()
    assert check_password("2468", nina.pin_hash) and check_password("9753", nina.duress_pin_hash)
