"""Rules that read the way the policy does (ORG-04, MOV-02).

Occupational health's advice not to work alone stays until occupational health lifts
it; its review date reminds them and ends nothing. A block recorded while the worker
is out tells their line manager at once. When a worker says they are running late,
their buddy is told.
"""

from datetime import date, timedelta

import pytest

from lonewatch import clock
from lonewatch.notify.models import Delivery
from lonewatch.org.actions import do_set_fitness
from lonewatch.visits.actions import SessionError, do_extend, remind_fitness_reviews

pytestmark = pytest.mark.django_db


def test_org_04_the_block_stays_after_the_review_date(trust, start_session, at):
    at(days=0)
    nina, helen = trust.people["nina"], trust.people["helen"]
    do_set_fitness(nina, unable=True, review=date(2026, 11, 25), actor=helen.user)
    at(days=10)  # long past the review date
    nina.refresh_from_db()
    with pytest.raises(SessionError, match="must not work alone"):
        start_session(interval=600)
    do_set_fitness(nina, unable=False, review=None, actor=helen.user)
    nina.refresh_from_db()
    assert start_session(interval=600).pk


def test_org_04_the_review_date_reminds_occupational_health_once(trust, at):
    at(days=0)
    nina, helen = trust.people["nina"], trust.people["helen"]
    do_set_fitness(nina, unable=True, review=date(2026, 11, 25), actor=helen.user)
    assert remind_fitness_reviews() == 0  # not yet
    at(days=2)
    assert remind_fitness_reviews() == 1
    told = Delivery.objects.filter(purpose="fitness_review_due")
    assert {d.recipient for d in told} == {helen}
    assert {d.channel for d in told} == {"in_app", "email"}
    assert "Nina" in told.first().subject
    at(days=3)
    assert remind_fitness_reviews() == 0  # once per review date
    nina.refresh_from_db()
    assert nina.unable_to_work_alone
    # A new review date reminds again when it comes.
    do_set_fitness(nina, unable=True, review=date(2026, 12, 1), actor=helen.user)
    at(days=9)
    assert remind_fitness_reviews() == 1


def test_org_04_a_block_recorded_during_a_session_tells_the_line_manager_at_once(
        trust, start_session, at):
    at(days=0)
    nina, helen, maria = trust.people["nina"], trust.people["helen"], trust.people["maria"]
    session = start_session(interval=600)
    do_set_fitness(nina, unable=True, review=date(2026, 12, 20), actor=helen.user)
    told = Delivery.objects.filter(purpose="fitness_block_in_session")
    assert {d.recipient for d in told} == {maria}
    assert {d.channel for d in told} == {"in_app", "push", "email"}
    assert (told.first().about_kind, told.first().about_id) == ("session", session.pk)
    # Without a running session, nobody is interrupted.
    sol = trust.people["sol"]
    do_set_fitness(sol, unable=True, review=date(2026, 12, 20), actor=helen.user)
    assert told.count() == 3


def test_mov_02_running_late_tells_the_buddy(trust, start_session, client, at):
    at(days=0)
    session = start_session(interval=600)
    nina, ben = trust.people["nina"], trust.people["ben"]
    do_extend(session, actor=nina.user, seconds=1800, reason="Traffic on the A47")
    told = Delivery.objects.filter(purpose="running_late")
    assert {d.recipient for d in told} == {ben}
    assert {d.channel for d in told} == {"in_app", "push"}
    assert "Traffic on the A47" in told.first().body
    assert (clock.now() + timedelta(minutes=30)).strftime("%H:%M") in told.first().body
    # The message to Ben is not a line on Nina's own timeline.
    client.force_login(nina.user)
    page = client.get(f"/sessions/{session.pk}/").content.decode()
    assert "Running late" in page and "to Ben" not in page
