"""MOV-01, MOV-02, ESC-01, ESC-02 through the JSON API, with bad input refused."""

from datetime import timedelta

import pytest

from lonewatch import clock
from lonewatch.accounts.actions import do_create_token
from lonewatch.escalation import actions as engine
from lonewatch.escalation.models import Escalation
from lonewatch.escalation.permissions import ESCALATION
from lonewatch.org.models import Absence
from lonewatch.org.roles import Role
from lonewatch.visits.models import Session, SessionEvent


def bearer(person):
    _token, raw = do_create_token(person.user, name="phone", actor=person.user)
    return {"Authorization": f"Bearer {raw}"}


@pytest.fixture
def nina_api(nina_ready, settings):
    settings.MIN_CHECKIN_INTERVAL_SECONDS = 300
    return bearer(nina_ready)


def plan(trust, **changes):
    now = clock.now()
    body = {"kind": "visit", "address": "12 Acacia Avenue, Wisbech", "postcode": "PE13 1AB",
            "planned_start": now.isoformat(), "planned_end": (now + timedelta(hours=1)).isoformat(),
            "travel_mode": "car", "buddy_id": trust.people["ben"].pk, "interval_seconds": 900}
    return body | changes


def test_mov_01_start_check_in_extend_end(client, trust, nina_api):
    response = client.post("/api/v1/sessions", plan(trust), content_type="application/json",
                           headers=nina_api)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["state"] == "active" and body["due_at"]
    sid = body["id"]
    response = client.post(f"/api/v1/sessions/{sid}/checkins",
                           {"lat": 52.66, "lon": 0.16, "accuracy_m": 8, "note": "arrived"},
                           content_type="application/json", headers=nina_api)
    assert response.status_code == 200 and response.json()["due_at"]
    response = client.post(f"/api/v1/sessions/{sid}/extend",
                           {"seconds": 1800, "reason": "Patient unwell"},
                           content_type="application/json", headers=nina_api)
    assert response.status_code == 200
    detail = client.get(f"/api/v1/sessions/{sid}", headers=nina_api).json()
    assert [e["kind"] for e in detail["timeline"]] == ["started", "checked_in", "extended"]
    assert detail["timeline"][1]["lat"] == 52.66
    response = client.post(f"/api/v1/sessions/{sid}/end", {"pin": "2468"},
                           content_type="application/json", headers=nina_api)
    assert response.status_code == 200 and response.json()["state"] == "ended"
    listed = client.get("/api/v1/sessions?state=ended", headers=nina_api).json()
    assert [s["id"] for s in listed] == [sid]


@pytest.mark.parametrize(("changes", "status", "message"), [
    ({"buddy_id": 999999}, 400, "no person with id 999999"),
    ({"planned_end": "2020-01-01T00:00:00Z"}, 400, "planned end must be after"),
    ({"interval_seconds": 60}, 400, "at least every 5 minutes"),
    ({"lat": 95.0, "lon": 0.1}, 400, "Latitude must be between"),
    ({"kind": "picnic"}, 400, "kind must be one of"),
    ({"interval_seconds": "soon"}, 400, "interval_seconds"),
    ({"address": "  "}, 400, "Enter where you are going"),
])
def test_mov_01_bad_session_is_refused_with_a_message_and_nothing_changes(
        client, trust, nina_api, changes, status, message):
    response = client.post("/api/v1/sessions", plan(trust, **changes),
                           content_type="application/json", headers=nina_api)
    assert response.status_code == status, response.content
    assert message in response.json()["detail"]
    assert not Session.objects.exists() and not SessionEvent.objects.exists()


def test_mov_02_pin_for_someone_elses_session_is_refused(client, trust, nina_api, start_session):
    session = start_session(interval=900)
    ben = bearer(trust.people["ben"])  # Ben is the buddy: he may see it, not end it
    response = client.post(f"/api/v1/sessions/{session.pk}/end", {"pin": "2468"},
                           content_type="application/json", headers=ben)
    assert response.status_code == 403 and response.json()["detail"]
    otto = bearer(trust.people["otto"])
    response = client.post(f"/api/v1/sessions/{session.pk}/end", {"pin": "2468"},
                           content_type="application/json", headers=otto)
    assert response.status_code == 404
    wrong = client.post(f"/api/v1/sessions/{session.pk}/end", {"pin": "1111"},
                        content_type="application/json", headers=nina_api)
    assert wrong.status_code == 400 and wrong.json()["detail"] == "That PIN is not right."
    session.refresh_from_db()
    assert session.state == "active"


def test_bud_01_buddy_must_have_accepted(client, trust, nina_api):
    nina = trust.people["nina"]
    nina.buddy_accepted_at = None
    nina.save()
    response = client.post("/api/v1/sessions", plan(trust), content_type="application/json",
                           headers=nina_api)
    assert response.status_code == 400
    assert "has not accepted being your buddy" in response.json()["detail"]


def test_bud_02_buddy_on_leave_needs_a_named_cover(client, trust, nina_api):
    now = clock.now()
    Absence.objects.create(person=trust.people["ben"], reason="leave",
                           starts_at=now - timedelta(days=1), ends_at=now + timedelta(days=3))
    response = client.post("/api/v1/sessions", plan(trust), content_type="application/json",
                           headers=nina_api)
    assert response.status_code == 400 and "on leave until" in response.json()["detail"]
    assert "cover buddy" in response.json()["detail"]
    not_a_buddy = client.post("/api/v1/sessions",
                              plan(trust, cover_buddy_id=trust.people["sol"].pk),
                              content_type="application/json", headers=nina_api)
    assert not_a_buddy.status_code == 400 and "not a buddy" in not_a_buddy.json()["detail"]
    response = client.post("/api/v1/sessions", plan(trust, cover_buddy_id=trust.people["maria"].pk),
                           content_type="application/json", headers=nina_api)
    assert response.status_code == 201
    assert Session.objects.get().watching_buddy == trust.people["maria"]


def test_org_04_unable_to_work_alone_cannot_start(client, trust, nina_api):
    nina = trust.people["nina"]
    nina.unable_to_work_alone = True
    nina.unable_to_work_alone_review = (clock.now() + timedelta(days=30)).date()
    nina.save()
    response = client.post("/api/v1/sessions", plan(trust), content_type="application/json",
                           headers=nina_api)
    assert response.status_code == 400 and "must not work alone" in response.json()["detail"]


def test_mov_02_one_running_session_at_a_time(client, trust, nina_api):
    assert client.post("/api/v1/sessions", plan(trust), content_type="application/json",
                       headers=nina_api).status_code == 201
    again = client.post("/api/v1/sessions", plan(trust), content_type="application/json",
                        headers=nina_api)
    assert again.status_code == 409 and "already have a session" in again.json()["detail"]


def test_bud_03_buddy_acknowledges_and_resolves_over_the_api(client, trust, nina_api, start_session,
                                                     time_machine):
    session = start_session(interval=900)
    time_machine.move_to(clock.now() + timedelta(minutes=16), tick=False)
    engine.start_due()
    engine.fire_due()
    ben = bearer(trust.people["ben"])
    open_ = client.get("/api/v1/escalations?state=open", headers=ben).json()
    assert [e["session_id"] for e in open_] == [session.pk]
    eid = open_[0]["id"]
    ack = client.post(f"/api/v1/escalations/{eid}/acknowledge", headers=ben)
    assert ack.status_code == 200 and ack.json()["acknowledged_by"] == "ben"
    again = client.post(f"/api/v1/escalations/{eid}/acknowledge", headers=ben)
    assert again.status_code == 409
    bad = client.post(f"/api/v1/escalations/{eid}/resolve", {"outcome": "shrug"},
                      content_type="application/json", headers=ben)
    assert bad.status_code == 400 and "outcome must be one of" in bad.json()["detail"]
    done = client.post(f"/api/v1/escalations/{eid}/resolve",
                       {"outcome": "worker_safe", "note": "Spoke to her"},
                       content_type="application/json", headers=ben)
    assert done.status_code == 200 and done.json()["resolved_by"] == "ben"
    # The worker may see her escalation but not acknowledge it for herself.
    assert client.post(f"/api/v1/escalations/{eid}/acknowledge",
                       headers=nina_api).status_code == 403


def test_esc_01_policy_read_and_replaced_by_the_teams_manager(client, trust, nina_api):
    north = trust.north.pk
    maria = bearer(trust.people["maria"])
    default = client.get(f"/api/v1/teams/{north}/escalation-policy", headers=maria).json()
    assert [(s["after_seconds"], s["notify"]) for s in default["steps"]] == [
        (0, "worker"), (300, "buddy"), (900, "line_manager"), (1800, "senior_manager"),
        (2700, "police_advice")]
    new = {"steps": [{"after_seconds": 0, "notify": "buddy", "channels": ["sms", "in_app"]},
                     {"after_seconds": 600, "notify": "alarm_centre", "channels": ["in_app"]}]}
    response = client.put(f"/api/v1/teams/{north}/escalation-policy", new,
                          content_type="application/json", headers=maria)
    assert response.status_code == 200 and response.json() == new
    wrong = {"steps": [{"after_seconds": 600, "notify": "buddy", "channels": ["sms"]},
                       {"after_seconds": 0, "notify": "buddy", "channels": ["sms"]}]}
    response = client.put(f"/api/v1/teams/{north}/escalation-policy", wrong,
                          content_type="application/json", headers=maria)
    assert response.status_code == 400 and "in order" in response.json()["detail"]
    assert client.get(f"/api/v1/teams/{north}/escalation-policy",
                      headers=maria).json() == new
    assert client.put(f"/api/v1/teams/{north}/escalation-policy", new,
                      content_type="application/json", headers=nina_api).status_code == 404
    marcus = bearer(trust.people["marcus"])
    assert client.put(f"/api/v1/teams/{north}/escalation-policy", new,
                      content_type="application/json", headers=marcus).status_code == 404


def test_bud_01_buddy_sees_next_of_kin_only_while_the_session_runs(client, trust, nina_api,
                                                                  start_session):
    from lonewatch.org.actions import do_add_next_of_kin

    nina = trust.people["nina"]
    do_add_next_of_kin(nina, actor=nina.user, name="Piotr", relationship="Husband",
                       phone="+447700900911")
    ben = bearer(trust.people["ben"])
    assert client.get(f"/api/v1/people/{nina.pk}", headers=ben).status_code == 404
    session = start_session(interval=900)
    assert client.get(f"/api/v1/people/{nina.pk}/next-of-kin", headers=ben).json()[0][
        "name"] == "Piotr"
    assert client.get(f"/api/v1/sessions/{session.pk}", headers=ben).status_code == 200
    client.post(f"/api/v1/sessions/{session.pk}/end", {"pin": "2468"},
                content_type="application/json", headers=nina_api)
    assert client.get(f"/api/v1/people/{nina.pk}/next-of-kin", headers=ben).status_code == 404
    assert client.get(f"/api/v1/sessions/{session.pk}", headers=ben).status_code == 404


def test_mov_02_fast_and_ordinary_check_ins_agree(client, trust, nina_api, start_session,
                                                  time_machine):
    """On PostgreSQL a check-in is one SQL statement; it must leave exactly what the
    ordinary path leaves, its place in the session's chain (ORG-05) and its position
    (MOV-05) included."""
    from lonewatch.visits import actions
    from lonewatch.visits.timeline import TIMELINE

    time_machine.move_to("2026-11-23 09:00:00+00:00", tick=False)
    session = start_session(interval=900)
    time_machine.shift(timedelta(minutes=3))
    response = client.post(f"/api/v1/sessions/{session.pk}/checkins",
                           {"lat": 52.5, "lon": 0.25, "accuracy_m": 9, "note": "fast"},
                           content_type="application/json", headers=nina_api)
    assert response.status_code == 200
    fast = Session.objects.get(pk=session.pk)
    # The same check-in again, at the same moment, by the ordinary path: a line of its own.
    actions.do_check_in(session, actor=trust.people["nina"].user, lat=52.5, lon=0.25,
                        accuracy_m=9, note="fast")
    slow = Session.objects.get(pk=session.pk)
    fast_event, slow_event = session.events.filter(kind="checked_in").order_by("seq")
    fields = ["due_at", "remind_at", "last_contact_at", "last_lat", "last_lon",
              "last_accuracy_m", "last_location_at", "state"]
    assert {f: getattr(fast, f) for f in fields} == {f: getattr(slow, f) for f in fields}
    assert response.json()["due_at"].startswith(fast.due_at.strftime("%Y-%m-%dT%H:%M"))
    keys = ["at", "kind", "actor_id", "summary", "lat", "lon", "accuracy_m", "data"]
    assert {k: getattr(fast_event, k) for k in keys} == {k: getattr(slow_event, k) for k in keys}
    assert (fast_event.seq, slow_event.seq) == (2, 3)
    assert slow_event.prev_hash == fast_event.hash
    assert TIMELINE.verify()[2] == []


def test_mov_02_check_in_falls_back_for_late_revoked_and_foreign(client, trust, nina_api,
                                                                 start_session, time_machine):
    session = start_session(interval=900)
    time_machine.move_to(clock.now() + timedelta(minutes=16), tick=False)
    engine.start_due()
    late = client.post(f"/api/v1/sessions/{session.pk}/checkins", {},
                       content_type="application/json", headers=nina_api)
    assert late.status_code == 200 and late.json()["state"] == "active"
    assert session.escalations.get().outcome == "worker_checked_in_late"
    ben = bearer(trust.people["ben"])
    assert client.post(f"/api/v1/sessions/{session.pk}/checkins", {},
                       content_type="application/json", headers=ben).status_code == 403
    bad = client.post(f"/api/v1/sessions/{session.pk}/checkins", {},
                      content_type="application/json", headers={"Authorization": "Bearer lw_x"})
    assert bad.status_code == 401 and bad.json()["detail"]
    far = client.post(f"/api/v1/sessions/{session.pk}/checkins", {"lat": 91, "lon": 0},
                      content_type="application/json", headers=nina_api)
    assert far.status_code == 400 and "Latitude" in far.json()["detail"]


def test_mov_01_times_without_a_time_zone_are_refused(client, trust, nina_api):
    response = client.post("/api/v1/sessions", plan(trust, planned_start="2026-11-23T09:00:00",
                                                    planned_end="2026-11-23T10:00:00"),
                           content_type="application/json", headers=nina_api)
    assert response.status_code == 400 and "time zone" in response.json()["detail"]


def test_esc_02_nobody_acknowledges_their_own_missed_check_in(trust, start_session,
                                                             time_machine):
    from lonewatch.core import permissions as perms
    from lonewatch.org.models import RoleMembership

    RoleMembership.objects.create(person=trust.people["nina"], role=Role.LINE_MANAGER,
                                  scope="team", team=trust.north)
    start_session(interval=900)
    time_machine.move_to(clock.now() + timedelta(minutes=16), tick=False)
    engine.start_due()
    escalation = Escalation.objects.get()
    nina = trust.people["nina"].user
    nina._lonewatch_memberships = None
    assert perms.can(nina, perms.VIEW, ESCALATION, escalation)
    assert not perms.can(nina, perms.ACT, ESCALATION, escalation)


def test_bud_02_absences_recorded_by_the_manager_and_the_person(client, trust, as_person,
                                                               nina_api):
    ben = trust.people["ben"]
    maria = bearer(trust.people["maria"])
    now = clock.now()
    body = {"reason": "leave", "starts_at": (now - timedelta(hours=1)).isoformat(),
            "ends_at": (now + timedelta(days=2)).isoformat()}
    response = client.post(f"/api/v1/people/{ben.pk}/absences", body,
                           content_type="application/json", headers=maria)
    assert response.status_code == 201, response.content
    absence_id = response.json()["id"]
    # Nina cannot record Ben's leave; Otto's manager cannot even see him.
    assert client.post(f"/api/v1/people/{ben.pk}/absences", body,
                       content_type="application/json", headers=nina_api).status_code == 404
    bad = client.post(f"/api/v1/people/{ben.pk}/absences", body | {"reason": "holiday"},
                      content_type="application/json", headers=maria)
    assert bad.status_code == 400 and "reason must be one of" in bad.json()["detail"]
    # With Ben away, Nina needs a cover buddy.
    refused = client.post("/api/v1/sessions", plan(trust), content_type="application/json",
                          headers=nina_api)
    assert refused.status_code == 400 and "on leave" in refused.json()["detail"]
    assert client.delete(f"/api/v1/absences/{absence_id}", headers=maria).status_code == 204
    assert client.post("/api/v1/sessions", plan(trust), content_type="application/json",
                       headers=nina_api).status_code == 201
    page = as_person(trust.people["maria"]).post(
        f"/people/{ben.pk}/absences", {"reason": "sick", "starts_at": "2099-01-01T09:00",
                                       "ends_at": "2099-01-01T08:00"})
    assert page.status_code == 400 and "The end must be after the start" in page.content.decode()


def test_mov_05_longitude_without_latitude_is_refused(client, trust, nina_api, start_session):
    session = start_session(interval=900)
    response = client.post(f"/api/v1/sessions/{session.pk}/checkins", {"lon": 0.1},
                           content_type="application/json", headers=nina_api)
    assert response.status_code == 400 and "both latitude and longitude" in \
        response.json()["detail"]
