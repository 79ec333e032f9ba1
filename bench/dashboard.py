"""The governance dashboard (RSK-05, Q-PERF) for a trust of 200 teams and 10,000 staff,
with a year of its people's work behind it: sessions (some high risk, a few of those
alone on a manager's exception), missed check-ins and their outcomes, amber and red
alerts (drills and false alarms among them), alarm reviews (some overdue), each team's
activity lists (several versions, in every state, naming its lone workers), SOPs and
local risks, some past their review date. A second, smaller trust of 20 teams and 1,000
staff sits in the same database.

Measured: ``governance.dashboard.build``, the function the page, the API and the exports
call, for the trust's security manager (the whole trust: 200 team rows), after a few
calls to warm up; each call with the user freshly loaded, as a request has it. After
each call the same process reads one person by primary key through the ORM: the
reference, and the ratio of the two p95s the figure to compare across machines. The
number of queries of one build is counted for the 20-team trust and the 200-team trust,
and must be the same. Then the exports (CSV and XLSX) a few times. First on PostgreSQL,
then on the embedded default (SQLite).
"""

import os
import random
import sys
import time
from datetime import timedelta

from bench import common
from bench.common import figures, pct

TEAMS = int(os.environ.get("BENCH_DASHBOARD_TEAMS", "200"))
STAFF = int(os.environ.get("BENCH_DASHBOARD_STAFF", "10000"))
SMALL_TEAMS = 20
SESSIONS_PER_WORKER = float(os.environ.get("BENCH_DASHBOARD_SESSIONS_PER_WORKER", "40"))
CALLS = int(os.environ.get("BENCH_DASHBOARD_CALLS", "60"))
WARMUP = 5
EXPORTS = 5
TARGET_MS = 300.0
BATCH = 5000


def seed(name: str, teams: int, staff: int, rng: random.Random):
    """One trust: ``teams`` teams of ``staff // teams`` people in directorates of 20
    teams, and a year of work. Returns the id of its security manager's login."""
    from django.db import transaction

    from lonewatch import clock
    from lonewatch.accounts.models import User
    from lonewatch.alarms.models import Alarm
    from lonewatch.escalation.models import Escalation
    from lonewatch.governance.models import Activity, Risk, Sop, Submission
    from lonewatch.org.models import Directorate, Organisation, Person, RoleMembership, Team
    from lonewatch.org.roles import Role, Scope
    from lonewatch.recordings.models import Review
    from lonewatch.visits.models import Session

    now = clock.now()
    today = now.date()
    with transaction.atomic():
        org = Organisation.objects.create(name=name)
        directorates = Directorate.objects.bulk_create(
            Directorate(organisation=org, name=f"Directorate {n + 1}")
            for n in range(max(2, teams // 20)))
        team_list = Team.objects.bulk_create(
            Team(directorate=directorates[n % len(directorates)], name=f"Team {n + 1:03d}")
            for n in range(teams))
        users = User.objects.bulk_create(
            (User(username=f"{name[:8].lower()}-{n}", password="!")
             for n in range(staff + len(directorates) + 1)), batch_size=BATCH)
        people = Person.objects.bulk_create(
            (Person(user=user, organisation=org,
                    team=team_list[n % teams] if n < staff else None,
                    full_name=f"Person {n:05d}") for n, user in enumerate(users)),
            batch_size=BATCH)
        roles, workers, by_team = [], [], {t.pk: [] for t in team_list}
        for n, person in enumerate(people[:staff]):
            if n < teams:  # the first of each team manages it
                roles.append(RoleMembership(person=person, role=Role.LINE_MANAGER,
                                            scope=Scope.TEAM, team_id=person.team_id))
                continue
            if rng.random() < 0.8:
                roles.append(RoleMembership(person=person, role=Role.LONE_WORKER,
                                            scope=Scope.OWN))
                workers.append(person)
                by_team[person.team_id].append(person)
            if rng.random() < 0.3:
                roles.append(RoleMembership(person=person, role=Role.BUDDY, scope=Scope.OWN))
        for directorate, lead in zip(directorates, people[staff:], strict=False):
            roles.append(RoleMembership(person=lead, role=Role.DIRECTORATE_LEAD,
                                        scope=Scope.DIRECTORATE, directorate=directorate))
        security = people[-1]
        roles.append(RoleMembership(person=security, role=Role.SECURITY_MANAGER,
                                    scope=Scope.ORGANISATION))
        RoleMembership.objects.bulk_create(roles, batch_size=BATCH)

    # A year of sessions; 3 % high risk, a quarter of those alone at home on an exception.
    count = int(len(workers) * SESSIONS_PER_WORKER)
    escalated = []
    for start in range(0, count, BATCH):
        batch = []
        for _ in range(min(BATCH, count - start)):
            worker = rng.choice(workers)
            began = now - timedelta(days=rng.uniform(0, 365))
            high = rng.random() < 0.03
            alone = high and rng.random() < 0.25
            batch.append(Session(
                worker=worker, kind="visit", address="1 High Street",
                postcode=f"PE{rng.randint(1, 38)} {rng.randint(1, 9)}"
                         f"{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}",
                planned_start=began, planned_end=began + timedelta(hours=1),
                buddy=worker, interval_seconds=1800, state="ended", started_at=began,
                ended_at=began + timedelta(hours=1), last_contact_at=began,
                risk="high" if high else "low",
                companion="" if alone or not high else "colleague",
                companion_name="" if alone or not high else "A colleague"))
        with transaction.atomic():
            made = Session.objects.bulk_create(batch)
        escalated += [s for s in made if rng.random() < 0.02]
    outcomes = (["forgot_to_check_out"] * 40 + ["worker_safe"] * 45 +
                ["worker_checked_in_late"] * 12 + ["worker_hurt"] * 2 + ["police_involved"])
    with transaction.atomic():
        Escalation.objects.bulk_create(
            (Escalation(session=s, state="resolved", missed_at=s.started_at + timedelta(
                minutes=30), steps=[], resolved_at=s.started_at + timedelta(minutes=50),
                outcome=rng.choice(outcomes)) for s in escalated), batch_size=BATCH)

        # Alarms: 0.6 a lone worker a year; reviews for a sixth of the genuine red ones.
        alarms = []
        for _ in range(int(len(workers) * 0.6)):
            worker = rng.choice(workers)
            raised = now - timedelta(days=rng.uniform(0, 365))
            red = rng.random() < 0.7
            category = rng.choice(["genuine", "genuine_closed_safely", "false_alarm",
                                   "false_alarm"]) if red else ""
            alarms.append(Alarm(
                organisation=org, worker=worker, kind="red" if red else "amber",
                state="closed" if red else "logged", drill=red and rng.random() < 0.1,
                raised_at=raised, category=category,
                closed_at=raised + timedelta(minutes=15) if red else None))
        alarms = Alarm.objects.bulk_create(alarms, batch_size=BATCH)
        Review.objects.bulk_create(
            (Review(alarm=a, organisation_id=org.pk, reason="closed_safely",
                    opened_at=a.raised_at, due_at=a.raised_at + timedelta(days=14),
                    decided_at=a.raised_at + timedelta(days=7)
                    if rng.random() < 0.8 else None)
             for a in alarms if a.category == "genuine_closed_safely" and not a.drill
             and rng.random() < 0.6), batch_size=BATCH)

        # Each team's activity lists: older versions accepted, the latest in any state.
        manager_of = {p.team_id: p for p in people[:teams]}
        named, risks, sops = [], [], []
        states = ["accepted"] * 6 + ["submitted"] * 2 + ["draft", "returned"]
        for team in team_list:
            versions = rng.randint(1, 3)
            for version in range(1, versions + 1):
                state = "accepted" if version < versions else rng.choice(states)
                submission = Submission.objects.create(
                    team=team, version=version, state=state, created_at=now,
                    review_on=today + timedelta(days=rng.randint(-60, 330))
                    if state == "accepted" else None)
                team_workers = by_team[team.pk]
                chosen = rng.sample(team_workers, int(len(team_workers) * rng.uniform(0.6, 1)))
                for number in range(3):
                    activity = Activity.objects.create(submission=submission,
                                                       title=f"Activity {number + 1}")
                    named += [Activity.people.through(activity=activity, person=p)
                              for p in chosen[number::3]]
            for version, state in enumerate(rng.choice([["approved"], ["superseded",
                                                        "approved"], ["submitted"], []]), 1):
                sops.append(Sop(team=team, version=version, state=state,
                                author=manager_of[team.pk].user, created_at=now,
                                review_on=today + timedelta(days=rng.randint(-60, 300))
                                if state == "approved" else None))
            for _ in range(2):
                risks.append(Risk(
                    organisation=org, level="team", team=team,
                    directorate_id=team.directorate_id, title="Lone working", description="-",
                    owner=manager_of[team.pk], initial_likelihood=3, initial_consequence=3,
                    current_likelihood=2, current_consequence=3, target_likelihood=1,
                    target_consequence=3, current_score=6, created_at=now,
                    review_on=today + timedelta(days=rng.randint(-60, 300))))
        Activity.people.through.objects.bulk_create(named, batch_size=BATCH)
        Sop.objects.bulk_create(sops)
        Risk.objects.bulk_create(risks)
    return security.user_id, {"sessions": count, "escalations": len(escalated),
                              "alarms": len(alarms), "activity people": len(named)}


def measure(label: str) -> None:
    import django

    django.setup()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from lonewatch.accounts.models import User
    from lonewatch.governance import dashboard
    from lonewatch.org.models import Person

    rng = random.Random(20261130)
    started = time.monotonic()
    big, made = seed("Bench Trust", TEAMS, STAFF, rng)
    small, _ = seed("Small Trust", SMALL_TEAMS, STAFF * SMALL_TEAMS // TEAMS, rng)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
    load = ", ".join(f"{n:.1f}" for n in os.getloadavg())
    print(f"{label}: {TEAMS} teams and {STAFF:,} staff ("
          + ", ".join(f"{v:,} {k}" for k, v in made.items())
          + f"), and a trust of {SMALL_TEAMS} teams; seeded in "
            f"{time.monotonic() - started:.0f} s; load average {load}", flush=True)

    def fresh(user_id):
        return User.objects.select_related("person").get(pk=user_id)

    counted = {}
    for teams, user_id in ((SMALL_TEAMS, small), (TEAMS, big)):
        user = fresh(user_id)
        with CaptureQueriesContext(connection) as queries:
            board = dashboard.build(user)
        assert sum(r.level == "team" for r in board.rows) == teams
        counted[teams] = len(queries)
    print(f"  queries for one build: {counted[SMALL_TEAMS]} with {SMALL_TEAMS} teams, "
          f"{counted[TEAMS]} with {TEAMS} teams", flush=True)
    assert counted[SMALL_TEAMS] == counted[TEAMS], \
        f"the query count grows with the number of teams: {counted}"

    ids = list(Person.objects.values_list("pk", flat=True))

    def reference() -> float:
        pk = rng.choice(ids)
        start = time.perf_counter_ns()
        Person.objects.get(pk=pk)
        return (time.perf_counter_ns() - start) / 1e6

    took, ref = [], []
    for call in range(WARMUP + CALLS):
        user = fresh(big)
        start = time.perf_counter_ns()
        board = dashboard.build(user)
        elapsed = (time.perf_counter_ns() - start) / 1e6
        if call >= WARMUP:
            took.append(elapsed)
            ref.append(reference())  # after each build: the same machine, the same moment
    p95 = pct(took, 95)
    print(f"  dashboard.build for the trust ({len(board.rows)} rows, "
          f"{len(board.columns)} columns), {len(took)} calls after {WARMUP}: "
          f"{figures(took)}")
    print(f"  reference, a person by primary key through the ORM ({len(ref)}): "
          f"{figures(ref)}")
    print(f"  build / reference: p50 {pct(took, 50) / pct(ref, 50):.0f}x, "
          f"p95 {p95 / pct(ref, 95):.0f}x")
    print(f"  target p95 < {TARGET_MS:.0f} ms: {'met' if p95 < TARGET_MS else 'missed'} "
          f"({p95:.2f} ms)", flush=True)
    for name, export in (("CSV", dashboard.to_csv), ("XLSX", dashboard.to_xlsx)):
        times, size = [], 0
        for _ in range(EXPORTS):
            start = time.perf_counter_ns()
            size = len(export(board))
            times.append((time.perf_counter_ns() - start) / 1e6)
        print(f"  {name} of the built dashboard ({size:,} bytes), {EXPORTS} times: "
              f"{figures(times)}", flush=True)


def main() -> None:
    common.on_both_databases("bench.dashboard", "lonewatch_bench_dashboard")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        measure(sys.argv[1])
    else:
        main()
