"""REC-03: who may hear a recording. Operators on duty while the alarm is handled, until
it is closed; after that only the security manager. Never the worker, the buddy or a
manager, who may see the alarm itself. Every play and every listing of takes is audited.
Holds: only the security manager places or releases one, and a hold without its reason
is refused and changes nothing."""

import pytest
from django.test import Client

from lonewatch.alarms import actions as alarms
from lonewatch.core.models import AuditEvent
from lonewatch.recordings.models import Hold
from tests.conftest import bearer, post

pytestmark = pytest.mark.django_db


def _play(person, alarm):
    return Client(headers=bearer(person)).get(f"/api/v1/alarms/{alarm.pk}/recording")


def test_rec_03_who_may_hear_an_open_alarm_and_a_closed_one(make, trust, client):
    people = trust.people
    made = make("red")
    alarm = made.alarm
    # Open: the operator on duty and the security manager hear it; nobody else.
    assert _play(people["olivia"], alarm).status_code == 200
    assert _play(people["leslie"], alarm).status_code == 200
    for name in ("nina", "ben", "maria", "sarah"):
        answer = _play(people[name], alarm)
        assert answer.status_code in (403, 404), name
        if answer.status_code == 403:
            assert "security manager" in answer.json()["detail"]
    # An operator off duty does not.
    alarms.do_duty(people["olivia"], on=False, actor=people["olivia"].user)
    assert _play(people["olivia"], alarm).status_code == 403
    alarms.do_duty(people["olivia"], on=True, actor=people["olivia"].user)

    # Closed: only the security manager.
    alarm.cancel_until = None
    alarm.save(update_fields=["cancel_until"])
    alarms.do_acknowledge(alarm, actor=people["olivia"].user)
    alarms.do_close(alarm, actor=people["olivia"].user, category="genuine")
    assert _play(people["olivia"], alarm).status_code == 403
    assert _play(people["leslie"], alarm).status_code == 200
    listing = Client(headers=bearer(people["olivia"])).get(
        f"/api/v1/alarms/{alarm.pk}/recording/takes")
    assert listing.status_code == 403
    # A manager who sees the alarm is refused with a reason, not shown it.
    maria = _play(people["maria"], alarm)
    assert maria.status_code == 403


def test_rec_03_every_play_and_listing_is_audited(make, trust):
    made = make("red")
    leslie = Client(headers=bearer(trust.people["leslie"]))
    before = AuditEvent.objects.filter(object_id=str(made.alarm.pk)).count()
    assert leslie.get(f"/api/v1/alarms/{made.alarm.pk}/recording").status_code == 200
    assert leslie.get(f"/api/v1/alarms/{made.alarm.pk}/recording/takes").status_code == 200
    actions = list(AuditEvent.objects.filter(object_id=str(made.alarm.pk))
                   .order_by("pk").values_list("action", flat=True)[before:])
    assert actions == ["alarm.recording.read", "alarm.recording.list"]


def test_rec_02_holds_are_the_security_managers_and_need_their_reason(make, trust, client):
    made = make("red", close="false_alarm")
    url = f"/api/v1/recordings/{made.alarm.pk}/holds"
    leslie, olivia = bearer(trust.people["leslie"]), bearer(trust.people["olivia"])
    for body, words in (({"reason": "police_request", "detail": ""}, "detail"),
                        ({"reason": "because", "detail": "PC 12"}, "reason must be one of"),
                        ({"detail": "PC 12"}, "reason is required"),
                        ({"reason": "court_case", "detail": "   "}, "who asked")):
        refused = post(client, url, leslie, body)
        assert refused.status_code == 400, body
        assert words in refused.json()["detail"], (body, refused.json())
    assert not Hold.objects.exists()
    assert post(client, url, olivia, {"reason": "court_case",
                                      "detail": "Crown Court T20267781"}).status_code == 403
    assert not Hold.objects.exists()

    other = make("red", close="genuine")  # kept, not held
    placed = post(client, url, leslie, {"reason": "court_case",
                                        "detail": "Crown Court T20267781"})
    assert placed.status_code == 201 and placed.json()["in_force"] is True
    listed = client.get("/api/v1/recordings?state=held", headers=leslie).json()
    assert [r["alarm_id"] for r in listed] == [made.alarm.pk]
    kept = {r["alarm_id"] for r in client.get("/api/v1/recordings?state=kept",
                                              headers=leslie).json()}
    assert kept == {made.alarm.pk, other.alarm.pk}
    record = client.get(f"/api/v1/recordings/{made.alarm.pk}", headers=leslie).json()
    assert record["held"] is True and record["rule"] == "false_alarm"
    release = f"/api/v1/recording-holds/{placed.json()['id']}/release"
    assert post(client, release, leslie, {"note": ""}).status_code == 400
    assert post(client, release, olivia, {"note": "done"}).status_code in (403, 404)
    released = post(client, release, leslie, {"note": "The trial is over"})
    assert released.status_code == 200 and released.json()["in_force"] is False
    assert post(client, release, leslie, {"note": "again"}).status_code == 409


def test_rec_03_the_console_lists_only_the_recordings_the_operator_may_still_hear(
        make, trust):
    from tests.conftest import login

    people = trust.people
    open_alarm = make("red")
    closed = make("red", close="genuine")
    console = login(Client(), people["olivia"], verified=True)

    def heard() -> str:
        page = console.get("/console/fragment").content.decode()
        return page.split("Recordings you can hear now", 1)[1].split("Missed check-ins", 1)[0]

    section = heard()
    assert f"/api/v1/alarms/{open_alarm.alarm.pk}/recording" in section
    assert f"/api/v1/alarms/{closed.alarm.pk}/recording" not in section
    alarms.do_duty(people["olivia"], on=False, actor=people["olivia"].user)
    section = heard()
    assert "You are not on duty" in section
    assert f"/api/v1/alarms/{open_alarm.alarm.pk}/recording" not in section


def test_rec_03_the_recordings_page_lists_holds_and_requests(make, trust):
    from datetime import date

    from lonewatch.recordings import actions
    from tests.conftest import login

    leslie = trust.people["leslie"]
    made = make("red", close="genuine")
    recording = actions.recording_of(made.alarm)
    actions.do_request_access(recording, actor=leslie.user, officer="DC 9 Shah",
                              force="Norfolk Constabulary", crime_reference="NC/77",
                              reason="Assault")
    actions.do_log_subject_access(recording, actor=leslie.user, requester="Nina Kowalski",
                                  received_on=date.today())
    page = login(Client(), leslie, verified=True).get("/recordings/").content.decode()
    assert "DC 9 Shah, Norfolk Constabulary: NC/77" in page
    assert "Nina Kowalski" in page and "Held (1)" in page
    assert Client().get("/recordings/").status_code == 302  # sign in first
    olivia = login(Client(), trust.people["olivia"], verified=True)
    assert olivia.get("/recordings/").status_code == 403
