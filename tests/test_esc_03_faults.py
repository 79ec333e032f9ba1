"""ESC-03 fault tests: real worker processes, killed and doubled.

These run against the same database as the suite (SQLite by default, PostgreSQL
when DATABASE_URL says so) and use real time: a few seconds each.
"""

import signal
import time
from collections import Counter
from datetime import timedelta

import pytest
from django.contrib.auth.hashers import make_password
from django.db import connection

from lonewatch import clock
from lonewatch.accounts.models import User
from lonewatch.escalation.models import Escalation
from lonewatch.escalation.policy import do_set_policy
from lonewatch.notify.models import Delivery
from lonewatch.org.models import Person
from lonewatch.visits.actions import do_start_session
from lonewatch.visits.models import Session, SessionEvent
from tests.processes import start_worker, stop, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _steps_fired(session) -> Counter:
    return Counter(SessionEvent.objects.filter(session=session, kind="step_fired")
                   .values_list("data__step", flat=True))


def test_esc_03_worker_killed_mid_escalation_fires_every_step_exactly_once(trust, tmp_path,
                                                                           settings):
    settings.MIN_CHECKIN_INTERVAL_SECONDS = 1
    nina = trust.people["nina"]
    nina.buddy_accepted_at = clock.now()
    nina.pin_hash = make_password("2468")
    nina.save()
    do_set_policy(trust.north, [
        {"after_seconds": 0, "notify": "worker", "channels": ["in_app"]},
        {"after_seconds": 3, "notify": "buddy", "channels": ["in_app"]},
        {"after_seconds": 6, "notify": "line_manager", "channels": ["in_app"]},
        {"after_seconds": 9, "notify": "senior_manager", "channels": ["in_app"]},
    ], actor=None)
    now = clock.now()
    session = do_start_session(nina, actor=nina.user, kind="visit", address="1 High Street",
                               planned_start=now, planned_end=now + timedelta(hours=1),
                               buddy=trust.people["ben"], interval_seconds=2)
    worker = start_worker(tmp_path)
    try:
        wait_for(lambda: _steps_fired(session)[1] == 1, timeout=30, what="the first step")
        stop(worker, signal.SIGKILL)  # kill -9 in the middle of the escalation
        # Steps 2 and 3 fall due while no worker runs; step 2 is then more than the
        # watchdog's grace (2 s) late, however fast the next worker starts.
        time.sleep(6)
        assert _steps_fired(session)[2] == 0
        worker = start_worker(tmp_path)
        wait_for(lambda: Escalation.objects.get(session=session).next_step == 4, timeout=30,
                 what="the last step")
        wait_for(lambda: not Delivery.objects.filter(status="pending").exists(), timeout=20,
                 what="deliveries to be sent")
    finally:
        stop(worker)
    assert _steps_fired(session) == {1: 1, 2: 1, 3: 1, 4: 1}
    sent = Counter(Delivery.objects.filter(
        about_kind="escalation", about_id__in=Escalation.objects.filter(session=session)
        .values("pk")).values_list("purpose", "recipient"))
    assert all(count == 1 for count in sent.values()) and len(sent) == 4
    assert SessionEvent.objects.filter(session=session, kind="watchdog").exists()


def test_esc_03_two_workers_share_the_deadlines_and_fire_no_step_twice(trust, tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("several worker processes share one database in production on PostgreSQL")
    count = 200
    ben, maria = trust.people["ben"], trust.people["maria"]
    users = User.objects.bulk_create(User(username=f"w{i}", password="!") for i in range(count))
    workers = Person.objects.bulk_create(
        Person(user=u, organisation=trust.org, team=trust.north, full_name=f"Worker {i}",
               line_manager=maria) for i, u in enumerate(users))
    do_set_policy(trust.north, [
        {"after_seconds": 0, "notify": "worker", "channels": ["in_app"]},
        {"after_seconds": 1, "notify": "buddy", "channels": ["in_app"]},
        {"after_seconds": 2, "notify": "line_manager", "channels": ["in_app"]},
    ], actor=None)
    now = clock.now()
    due = now + timedelta(seconds=4)
    Session.objects.bulk_create(
        Session(worker=w, kind="visit", address="1 High Street", planned_start=now,
                planned_end=now + timedelta(hours=1), buddy=ben, interval_seconds=60,
                started_at=now, last_contact_at=now, due_at=due) for w in workers)
    first, second = start_worker(tmp_path), start_worker(tmp_path)
    try:
        wait_for(lambda: Escalation.objects.filter(next_step=3).count() == count, timeout=60,
                 what="every escalation's last step")
        wait_for(lambda: not Delivery.objects.filter(status="pending").exists(), timeout=30,
                 what="deliveries to be sent")
    finally:
        stop(first)
        stop(second)
    assert Escalation.objects.count() == count
    fired = Counter(SessionEvent.objects.filter(kind="step_fired")
                    .values_list("session_id", "data__step"))
    assert len(fired) == 3 * count and set(fired.values()) == {1}
    per_message = Counter(Delivery.objects.values_list("about_id", "purpose", "recipient_id",
                                                       "channel"))
    assert len(per_message) == 3 * count and set(per_message.values()) == {1}
