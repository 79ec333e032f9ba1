"""ALM-01 … ALM-06: amber and red alerts, their lifecycle, re-alerts, false alarms,
the escalation step that raises one, and the BS 8484 figures."""

from datetime import timedelta

import pytest

from lonewatch import clock
from lonewatch.alarms import actions
from lonewatch.alarms.models import Alarm
from lonewatch.notify.models import Delivery
from tests.conftest import post


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


@pytest.mark.parametrize(("body", "message"), [
    ({"lat": 91, "lon": 0}, "Latitude"), ({"lat": 52}, "lon"),
])
def test_alm_02_bad_locations_are_refused_and_change_nothing(client, trust, desk, body,
                                                             message):
    aid = post(client, "/api/v1/alarms", desk["nina"]).json()["id"]
    response = post(client, f"/api/v1/alarms/{aid}/locations", desk["nina"], body)
    assert response.status_code == 400 and message in response.json()["detail"]
    assert Alarm.objects.get(pk=aid).lat is None


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
