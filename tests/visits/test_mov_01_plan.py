"""MOV-01 (000 §13): the day's plan. A worker plans visits ahead; the buddy and line
manager see the plan and nobody else does; cancelling or moving tells the buddy; starting
a planned visit is one call and it becomes the session; a planned visit not started is
prompted at its start and told to the buddy at start + the team's grace, and not when it
started or was cancelled."""

from datetime import datetime, timedelta

import pytest
from django.test import Client

from lonewatch import clock
from lonewatch.core.models import AuditEvent
from lonewatch.notify.models import Delivery
from lonewatch.visits import actions
from lonewatch.visits.actions import SessionError
from lonewatch.visits.models import PlannedVisit, Session
from tests.conftest import T0, bearer, post

pytestmark = pytest.mark.django_db

START = datetime.fromisoformat(T0) + timedelta(hours=1)  # 10:00


def _plan(trust, nina, **extra) -> PlannedVisit:
    values = {"address": "12 Acacia Avenue, Wisbech", "postcode": "pe13 1ab",
              "planned_start": START, "planned_end": START + timedelta(hours=1),
              "buddy": trust.people["ben"]} | extra
    return actions.do_plan_visit(nina, actor=nina.user, **values)[0]


def _told(person, purpose):
    return Delivery.objects.filter(recipient=person, purpose=purpose, channel="in_app")


def test_mov_01_a_worker_plans_visits_and_the_buddy_and_line_manager_see_them(
        trust, nina_ready, at):
    at()
    nina = bearer(nina_ready)
    made = post(Client(), "/api/v1/visits", nina, {
        "address": "12 Acacia Avenue, Wisbech", "postcode": "PE13 1AB",
        "nhs_number": "943 476 5919", "planned_start": START.isoformat(),
        "planned_end": (START + timedelta(hours=1)).isoformat(), "travel_mode": "walking",
        "buddy_id": trust.people["ben"].pk})
    assert made.status_code == 201, made.content
    body = made.json()
    assert (body["state"], body["risk"], body["nhs_number"], body["postcode"]) == \
        ("planned", "low", "9434765919", "PE13 1AB")
    assert body["precheck"] == {"risk": "low", "reasons": [], "markers": [], "requires": []}
    tomorrow = _plan(trust, nina_ready, planned_start=START + timedelta(days=1),
                     planned_end=START + timedelta(days=1, hours=1))
    for who in ("nina", "ben", "maria"):
        seen = Client().get("/api/v1/visits", headers=bearer(trust.people[who]))
        assert seen.status_code == 200
        assert [v["id"] for v in seen.json()] == [body["id"], tomorrow.pk], who
        one_day = Client().get("/api/v1/visits", {"day": "2026-11-24"},
                               headers=bearer(trust.people[who]))
        assert [v["id"] for v in one_day.json()] == [tomorrow.pk]
    for who in ("sol", "otto", "olivia"):
        assert Client().get("/api/v1/visits", headers=bearer(trust.people[who])).json() == []
        assert Client().get(f"/api/v1/visits/{body['id']}",
                            headers=bearer(trust.people[who])).status_code == 404
    assert AuditEvent.objects.filter(action="visit.plan").count() == 2


@pytest.mark.parametrize(("change", "words"), [
    ({"planned_end": START - timedelta(minutes=1)}, "after the planned start"),
    ({"planned_start": START + timedelta(days=100),
      "planned_end": START + timedelta(days=100, hours=1)}, "three months ahead"),
    ({"address": "  "}, "Enter where"),
    ({"postcode": "nowhere"}, "not a UK postcode"),
    ({"nhs_number": "943 476 5918"}, "not a valid NHS number"),
    ({"companion": "colleague"}, "Say who goes with you"),
    ({"venue": "car park"}, "venue must be one of"),
])
def test_mov_01_a_bad_plan_is_refused_and_changes_nothing(trust, nina_ready, at, change,
                                                          words):
    at()
    with pytest.raises(SessionError, match=words):
        _plan(trust, nina_ready, **change)
    assert not PlannedVisit.objects.exists()


def test_mov_01_cancelling_or_moving_a_visit_tells_the_buddy(trust, nina_ready, at):
    at()
    ben, nina = trust.people["ben"], bearer(nina_ready)
    visit = _plan(trust, nina_ready)
    later = START + timedelta(hours=3)
    moved = post(Client(), f"/api/v1/visits/{visit.pk}/move", nina,
                 {"planned_start": later.isoformat()})
    assert moved.status_code == 200, moved.content
    assert moved.json()["planned_end"] == (later + timedelta(hours=1)).isoformat().replace(
        "+00:00", "Z")
    told = _told(ben, "visit_moved").get()
    assert "13:00" in told.body and "was Mon 23 Nov at 10:00" in told.body
    assert post(Client(), f"/api/v1/visits/{visit.pk}/move", bearer(ben),
                {"planned_start": later.isoformat()}).status_code == 403
    cancelled = post(Client(), f"/api/v1/visits/{visit.pk}/cancel", nina,
                     {"reason": "Patient in hospital"})
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    assert _told(ben, "visit_cancelled").count() == 1
    again = post(Client(), f"/api/v1/visits/{visit.pk}/cancel", nina)
    assert again.status_code == 409 and "cancelled" in again.json()["detail"]


def test_mov_01_starting_a_planned_visit_is_one_call_and_it_becomes_the_session(
        trust, nina_ready, at, settings):
    at(minutes=58)
    visit = _plan(trust, nina_ready, travel_mode="walking", nhs_number="9434765919")
    started = post(Client(), f"/api/v1/visits/{visit.pk}/start", bearer(nina_ready))
    assert started.status_code == 201, started.content
    session = Session.objects.get(pk=started.json()["id"])
    assert (session.address, session.postcode, session.nhs_number, session.travel_mode,
            session.buddy, session.interval_seconds) == (
        visit.address, "PE13 1AB", "9434765919", "walking", trust.people["ben"],
        settings.PLANNED_VISIT_INTERVAL_SECONDS)
    visit.refresh_from_db()
    assert (visit.state, visit.session, visit.prompt_at, visit.no_show_at) == (
        "started", session, None, None)
    twice = post(Client(), f"/api/v1/visits/{visit.pk}/start", bearer(nina_ready))
    assert twice.status_code == 409


def test_mov_01_no_show_the_buddy_is_told_at_planned_start_plus_grace(trust, nina_ready,
                                                                      at):
    at()
    team = nina_ready.team
    team.no_show_grace_minutes = 20
    team.save()
    ben = trust.people["ben"]
    missed = _plan(trust, nina_ready)
    started = _plan(trust, nina_ready, address="3 Hill Road, Wisbech")
    cancelled = _plan(trust, nina_ready, address="5 Hill Road, Wisbech")
    actions.do_cancel_visit(cancelled, actor=nina_ready.user)
    at(minutes=59, seconds=59)
    assert actions.prompt_planned_visits() == 0
    at(minutes=60)  # the planned start: the worker is asked
    assert actions.prompt_planned_visits() == 2
    asked = _told(nina_ready, "visit_not_started")
    assert asked.count() == 2 and "your buddy will be told at 10:20" in asked.first().body
    actions.do_start_planned(started, actor=nina_ready.user)
    actions.do_end_session(Session.objects.get(), actor=nina_ready.user, pin="2468")
    at(minutes=79, seconds=59)
    assert actions.tell_buddies_of_no_shows() == 0
    assert not _told(ben, "visit_no_show").exists()
    at(minutes=80)  # start + 20 minutes' grace
    assert actions.tell_buddies_of_no_shows() == 1
    told = _told(ben, "visit_no_show").get()
    assert "12 Acacia Avenue" in told.body and "has not started it" in told.body
    missed.refresh_from_db()
    assert missed.state == "missed" and missed.no_show_at is None
    at(minutes=120)
    assert actions.tell_buddies_of_no_shows() == 0  # told once
    assert AuditEvent.objects.filter(action="visit.no_show").count() == 1


def test_mov_01_a_lone_worker_lands_on_my_day_with_the_plan_and_the_red_alert(
        trust, nina_ready, client, at):
    at()
    _plan(trust, nina_ready)
    from tests.conftest import PASSWORD
    signed_in = client.post("/login", {"username": "nina", "password": PASSWORD},
                            follow=True)
    assert signed_in.redirect_chain[-1][0].endswith("/my-day/")
    page = signed_in.content.decode()
    assert "Your plan" in page and "12 Acacia Avenue" in page and "Hold for red alert" in page
    # From every other page a lone worker sees, the red alert is one tap away.
    for url in ("/", "/profile/", "/buddy/", f"/visits/{PlannedVisit.objects.get().pk}/"):
        assert 'action="/my-day/alert/red"' in client.get(url).content.decode(), url
    manager = Client()
    manager.force_login(trust.people["maria"].user)
    landed = manager.get("/welcome", follow=True)
    assert landed.redirect_chain[-1][0] == "/"
    assert 'action="/my-day/alert/red"' not in landed.content.decode()


def test_mov_01_plan_page_makes_a_visit(trust, nina_ready, client, at):
    at()
    client.force_login(nina_ready.user)
    made = client.post("/my-day/plan", {
        "address": "12 Acacia Avenue", "postcode": "PE13 1AB", "day": "2026-11-23",
        "start": "14:30", "duration": "60", "travel_mode": "car", "venue": "home",
        "companion": "", "companion_name": ""})
    assert made.status_code == 302, made.content.decode()[:2000]
    visit = PlannedVisit.objects.get()
    assert clock.now() < visit.planned_start and visit.planned_start.hour == 14
    bad = client.post("/my-day/plan", {"address": "", "day": "2026-11-23", "start": "x",
                                       "duration": "60", "travel_mode": "car",
                                       "venue": "home"})
    assert bad.status_code == 400 and "Enter the address of the visit." in bad.content.decode()
    assert PlannedVisit.objects.count() == 1
