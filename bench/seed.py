"""Seed N workers with active sessions straight into the database (run under django.setup)."""

import sys
from datetime import timedelta

import django

django.setup()

from django.db import transaction  # noqa: E402

from lonewatch import clock  # noqa: E402
from lonewatch.accounts.models import User  # noqa: E402
from lonewatch.escalation.policy import do_set_policy  # noqa: E402
from lonewatch.org.models import Directorate, Organisation, Person, Team  # noqa: E402
from lonewatch.visits.models import Session  # noqa: E402


def seed(count: int, due_in_seconds: float, due_count: int) -> None:
    now = clock.now()
    with transaction.atomic():
        org = Organisation.objects.create(name="Bench Trust")
        team = Team.objects.create(name="Bench Team", directorate=Directorate.objects.create(
            organisation=org, name="D"))
        buddy = Person.objects.create(user=User.objects.create(username="bench-buddy",
                                                               password="!"),
                                      organisation=org, team=team, full_name="Buddy")
        do_set_policy(team, [{"after_seconds": 0, "notify": "worker",
                              "channels": ["in_app", "sms"]},
                             {"after_seconds": 300, "notify": "buddy", "channels": ["in_app"]}],
                      actor=None)
    due = now + timedelta(seconds=due_in_seconds)
    later = now + timedelta(hours=8)
    for start in range(0, count, 5000):
        size = min(5000, count - start)
        with transaction.atomic():
            users = User.objects.bulk_create(
                User(username=f"bench{start + i}", password="!") for i in range(size))
            people = Person.objects.bulk_create(
                Person(user=u, organisation=org, team=team, full_name=f"Worker {start + i}",
                       mobile="+447700900123", buddy=buddy, buddy_accepted_at=now)
                for i, u in enumerate(users))
            Session.objects.bulk_create(
                Session(worker=p, kind="visit", address="1 High Street", planned_start=now,
                        planned_end=later, buddy=buddy, interval_seconds=3600, started_at=now,
                        last_contact_at=now,
                        due_at=due if start + i < due_count else later)
                for i, p in enumerate(people))
    print(due.isoformat())


if __name__ == "__main__":
    seed(int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]))
