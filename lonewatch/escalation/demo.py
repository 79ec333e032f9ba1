"""The demo trust's last quarter of lone working, so that the governance dashboard's live
figures (RSK-05) have something to count: visits that ended safely, a few missed
check-ins that were escalated and resolved (one a worker who forgot to check out), and
high-risk visits made with a colleague, at a clinic or, once, alone at home on a
manager's exception.

This is history, loaded as a trust's earlier records would be: each session with its
timeline (started, checked in, missed and resolved, ended), dated back, and no message
sent; today's plans and sessions are the visits demo's. Safe to load twice."""

import random
from datetime import timedelta

from django.db import transaction

from lonewatch import clock
from lonewatch.escalation import policy
from lonewatch.escalation.models import Escalation
from lonewatch.org.models import Organisation, Person
from lonewatch.visits import timeline
from lonewatch.visits.models import Companion, Session, SessionEvent, Venue

MARK = "Demo history: "
DAYS = 84
STREETS = ["Elm Road", "Church Lane", "Station Road", "Orchard Way", "Mill Lane",
           "The Green", "Victoria Street", "Fen View", "Chapel Road", "School Lane"]
Outcome = Escalation.Outcome

# (worker, days ago, outcome, the manager's note)
MISSED = [
    ("ben.buddy", 12, Outcome.FORGOT, "Forgot to check out after the last visit; rang "
                                      "back at once"),
    ("ruth.clark", 26, Outcome.LATE_CHECK_IN, "No signal in the village; checked in 12 "
                                              "minutes late"),
    ("jess.taylor", 9, Outcome.SAFE, "Visit ran over; reached on the second call"),
    ("kofi.mensah", 40, Outcome.FORGOT, "Went straight home and did not check out"),
    ("grace.lee", 33, Outcome.LATE_CHECK_IN, "Phone battery flat; checked in from the car"),
]
# (worker, days ago, venue, companion): high-risk visits; the last went ahead alone at
# the person's home on a manager's exception.
HIGH_RISK = [
    ("ella.davies", 20, Venue.HOME, Companion.COLLEAGUE),
    ("mo.hassan", 47, Venue.SECURE, ""),
    ("priya.shah", 15, Venue.HOME, Companion.POLICE),
    ("liam.oconnor", 61, Venue.HOME, Companion.COLLEAGUE),
    ("sean.kelly", 6, Venue.HOME, ""),
]
VISITS_PER_WORKER = 6


def load() -> int:
    """Load the quarter's sessions if they are not there yet. Returns how many."""
    organisation = Organisation.objects.filter(name="Fenland Community Health NHS Trust").first()
    if organisation is None or Session.objects.filter(
            worker__organisation=organisation, address__startswith=MARK).exists():
        return 0
    people = {p.user.username: p for p in Person.objects.filter(organisation=organisation)
              .select_related("user", "team__directorate", "buddy")}
    workers = sorted((p for p in people.values() if p.team_id is not None and
                      p.roles.filter(role="lone_worker").exists()),
                     key=lambda p: p.user.username)
    rng = random.Random(20261201)
    now = clock.now()
    made = 0
    with transaction.atomic():
        for worker in workers:
            for _ in range(VISITS_PER_WORKER):
                began = _daytime(now - timedelta(days=rng.randint(2, DAYS)), rng)
                _visit(worker, began, rng)
                made += 1
        for username, days, outcome, note in MISSED:
            worker = people[username]
            began = _daytime(now - timedelta(days=days), rng)
            _visit(worker, began, rng, missed=(outcome, note,
                                                people[_manager_of(worker, people)]))
            made += 1
        for username, days, venue, companion in HIGH_RISK:
            began = _daytime(now - timedelta(days=days), rng)
            _visit(people[username], began, rng, high=(venue, companion))
            made += 1
    return made


def _manager_of(worker: Person, people: dict) -> str:
    managers = {"District Nursing North": "maria.manager",
                "District Nursing South": "sam.lead",
                "Community Mental Health Team": "marcus.reid",
                "Crisis Resolution Team": "fiona.grant"}
    return managers[worker.team.name]


def _daytime(day, rng: random.Random):
    return day.replace(hour=rng.choice((9, 10, 11, 13, 14, 15)), minute=rng.choice((0, 30)),
                       second=0, microsecond=0)


def _visit(worker: Person, began, rng: random.Random, *, missed=None, high=None) -> Session:
    """One visit as the live path leaves it when it has ended: the row and its timeline."""
    interval = 1800
    buddy = worker.buddy or worker
    venue, companion = high or (Venue.HOME, "")
    session = Session.objects.create(
        worker=worker, kind=Session.Kind.VISIT,
        address=f"{MARK}{rng.randint(1, 80)} {rng.choice(STREETS)}, March",
        postcode=f"PE15 {rng.randint(1, 9)}{rng.choice('ABDEHJLNPRSTW')}"
                 f"{rng.choice('ABDEHJLNPRSTW')}",
        planned_start=began, planned_end=began + timedelta(hours=1), buddy=buddy,
        interval_seconds=interval, state=Session.State.ENDED, started_at=began,
        last_contact_at=began, risk="high" if high else "low", venue=venue,
        companion=companion,
        companion_name={Companion.COLLEAGUE: "A colleague from the team",
                        Companion.POLICE: "PC on the neighbourhood team"}.get(companion, ""))
    line = _lines(session)
    how = ""
    if high:
        how = (f", with {Companion(companion).label.lower()}" if companion else
               ", alone on the line manager's exception" if venue == Venue.HOME else
               f", at {Venue(venue).label.lower()}")
    line(SessionEvent.Kind.STARTED, began,
         f"Home visit started; {buddy.full_name} is buddy; check in every 30 minutes"
         + (f" (a high-risk visit{how})" if high else ""), actor=worker.user)
    ended = began + timedelta(minutes=rng.choice((40, 50, 55)))
    if missed is None:
        line(SessionEvent.Kind.CHECKED_IN, began + timedelta(minutes=25), "Checked in",
             actor=worker.user)
    else:
        outcome, note, manager = missed
        due = began + timedelta(seconds=interval)
        line(SessionEvent.Kind.DEADLINE_MISSED, due,
             f"Check-in due at {clock.hhmm(due)} was missed: escalation started")
        steps = [s.as_json() for s in policy.steps_for(worker.team)]
        resolved_at = due + timedelta(minutes=18)
        Escalation.objects.create(
            session=session, state=Escalation.State.RESOLVED, missed_at=due, steps=steps,
            next_step=min(3, len(steps)), resolved_by=manager.user, resolved_at=resolved_at,
            outcome=outcome, note=note)
        line(SessionEvent.Kind.RESOLVED, resolved_at,
             f"Resolved by {manager.full_name}: {Outcome(outcome).label} ({note})",
             actor=manager.user)
        ended = resolved_at
    forgot = missed is not None and missed[0] == Outcome.FORGOT
    line(SessionEvent.Kind.ENDED, ended,
         "Ended by the line manager" if forgot else "Checked out safely",
         actor=missed[2].user if forgot else worker.user)
    Session.objects.filter(pk=session.pk).update(ended_at=ended, last_contact_at=ended)
    return session


def _lines(session: Session):
    def line(kind, at, summary, actor=None):
        timeline.append(session, kind=kind, summary=summary, at=at, actor=actor)

    return line
