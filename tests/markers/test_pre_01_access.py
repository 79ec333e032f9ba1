"""PRE-01: only people with a need read a marker, and every read is audited. The access
matrix: the security manager always; a worker with a planned visit or a running session
to the person or place; the buddy and managers of a visit while it runs; the alarm centre
while an alarm at the place is open (ALM-02); nobody else: not a worker without a visit
there, not the buddy once the visit has ended. A marker past its review date is shown
as expired and flagged to its owner, weekly, until reviewed."""

from datetime import date, timedelta

import pytest
from django.test import Client

from lonewatch import clock
from lonewatch.alarms import actions as alarms
from lonewatch.core.models import AuditEvent
from lonewatch.markers import actions as markers
from lonewatch.notify.models import Delivery
from lonewatch.visits import actions
from tests.conftest import bearer, post

pytestmark = pytest.mark.django_db


@pytest.fixture
def marker(trust):
    return markers.do_add_marker(
        trust.org, actor=trust.people["leslie"].user, category="weapons",
        nature="Machete kept by the door", advice="Do not go in alone",
        source="Police", review_on=date.today() + timedelta(days=60), postcode="PE13 1AB",
        house="12")


def _reads(person, why="running visit") -> int:
    return AuditEvent.objects.filter(action="marker.read", actor=person.user,
                                     summary__contains=why).count()


def _get(person, url):
    return Client().get(url, headers=bearer(person))


def test_pre_01_a_worker_without_a_visit_there_never_sees_the_marker(trust, marker,
                                                                     nina_ready):
    sol = trust.people["sol"]
    assert _get(sol, f"/api/v1/markers/{marker.pk}").status_code == 404
    assert _get(sol, "/api/v1/markers").status_code == 403
    check = _get(sol, "/api/v1/visits/precheck?postcode=PE13+1AB&address=12+Acacia+Avenue")
    assert check.json()["risk"] == "high" and check.json()["markers"] == []
    assert "Machete" not in check.content.decode()


def test_pre_01_the_access_matrix_while_a_visit_runs_and_after(trust, marker, nina_ready,
                                                               start_session):
    people = trust.people
    session = start_session(companion="colleague", companion_name="Sol")
    url = f"/api/v1/sessions/{session.pk}/markers"
    seen = {name: _get(people[name], url) for name in
            ("nina", "ben", "maria", "leslie", "sol", "otto", "marcus")}
    assert {n: r.status_code for n, r in seen.items()} == {
        "nina": 200, "ben": 200, "maria": 200, "leslie": 200, "sol": 404, "otto": 404,
        "marcus": 404}
    for name in ("nina", "ben", "maria", "leslie"):
        assert [m["id"] for m in seen[name].json()] == [marker.pk], name
        assert _reads(people[name]) == 1, name
    assert _get(people["nina"], f"/api/v1/markers/{marker.pk}").status_code == 200
    assert _get(people["ben"], f"/api/v1/markers/{marker.pk}").status_code == 404
    actions.do_end_session(session, actor=nina_ready.user, pin="2468")
    after = {name: _get(people[name], url) for name in ("nina", "ben", "maria", "leslie")}
    assert [after[n].json() for n in ("nina", "maria")] == [[], []]
    assert after["ben"].status_code == 404  # the buddy sees the session only while it runs
    assert [m["id"] for m in after["leslie"].json()] == [marker.pk]
    assert _get(people["nina"], f"/api/v1/markers/{marker.pk}").status_code == 404


def test_pre_01_the_alarm_centre_sees_the_markers_while_the_alarm_is_open(
        trust, marker, desk, start_session, nina_ready):
    session = start_session(venue="secure", address="12 Acacia Avenue")
    alarm = alarms.do_raise(nina_ready, actor=nina_ready.user, kind="red")
    olivia = trust.people["olivia"]
    url = f"/api/v1/alarms/{alarm.pk}/markers"
    shown = _get(olivia, url)
    assert shown.status_code == 200 and [m["id"] for m in shown.json()] == [marker.pk]
    assert AuditEvent.objects.filter(action="marker.read", actor=olivia.user,
                                     summary__contains="open alarm").count() == 1
    assert _get(nina_ready, url).json() == []  # the worker does not handle her own alarm
    alarms.do_acknowledge(alarm, actor=olivia.user)
    alarms.do_close(alarm, actor=olivia.user, category="genuine_closed_safely")
    assert _get(olivia, url).json() == []
    assert session.pk


def test_pre_01_expired_markers_are_shown_and_flagged_to_the_owner_until_reviewed(
        trust, marker, time_machine):
    leslie = trust.people["leslie"]
    assert markers.tell_owners_of_expired() == 0
    time_machine.move_to(clock.now() + timedelta(days=61), tick=False)
    shown = _get(leslie, f"/api/v1/markers/{marker.pk}").json()
    assert shown["expired"] is True
    check = markers.precheck(trust.org.pk, actor=leslie.user, postcode="PE13 1AB",
                             address="12 Acacia Avenue")
    assert "past its review date" in check.reasons[0]
    assert markers.tell_owners_of_expired() == 1
    assert markers.tell_owners_of_expired() == 0  # once until a week has passed
    told = Delivery.objects.filter(recipient=leslie, purpose="marker_expired",
                                   channel="in_app")
    assert told.count() == 1 and "past its review date" in told.get().subject
    time_machine.move_to(clock.now() + timedelta(days=7), tick=False)
    assert markers.tell_owners_of_expired() == 1
    reviewed = post(Client(), f"/api/v1/markers/{marker.pk}/review", bearer(leslie),
                    {"review_on": (clock.now().date() + timedelta(days=90)).isoformat(),
                     "advice": "Visit in pairs only"})
    assert reviewed.status_code == 200, reviewed.content
    assert reviewed.json()["expired"] is False and reviewed.json()["advice"] == \
        "Visit in pairs only"
    time_machine.move_to(clock.now() + timedelta(days=14), tick=False)
    assert markers.tell_owners_of_expired() == 0
    past = post(Client(), f"/api/v1/markers/{marker.pk}/review", bearer(leslie),
                {"review_on": "2020-01-01"})
    assert past.status_code == 400


def test_pre_01_the_manager_deciding_an_exception_reads_the_markers_the_buddy_does_not(
        trust, nina_ready):
    markers.do_add_marker(trust.org, actor=trust.people["leslie"].user,
                          category="weapons", nature="Knife seen", advice="In pairs",
                          source="Police", review_on=date.today() + timedelta(days=60),
                          nhs_number="9434765919")
    now = clock.now()
    visit, _ = actions.do_plan_visit(
        nina_ready, actor=nina_ready.user, address="1 Low Road", postcode="PE13 1AB",
        nhs_number="9434765919", planned_start=now + timedelta(hours=1),
        planned_end=now + timedelta(hours=2), buddy=trust.people["ben"])
    url = f"/api/v1/visits/{visit.pk}"
    deciding = _get(trust.people["maria"], url).json()["precheck"]
    assert [m["nature"] for m in deciding["markers"]] == ["Knife seen"]
    watching = _get(trust.people["ben"], url).json()["precheck"]
    assert watching["risk"] == "high" and watching["markers"] == []
    assert "Knife" not in str(watching)
