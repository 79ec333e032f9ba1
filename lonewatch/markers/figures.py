"""Markers' column on the governance dashboard (RSK-05): high-risk visits that went ahead
alone at the person's home, on a manager's exception.

Markers decides a visit's risk (PRE-04, through the ``visit_risk`` hook), and a high-risk
visit starts alone at home only when a manager has made an exception: the other ways out
are a companion or a neutral or secure place. How often that happens, against all the
team's high-risk visits, is what a committee needs to see: the exception is the
control that is meant to be rare."""

from django.db.models import Count, F, OuterRef, Q, Subquery

from lonewatch.core import figures
from lonewatch.core.figures import Figure
from lonewatch.org.models import Person
from lonewatch.visits.models import Session, Venue

HIGH = "high"
ALONE_AT_HOME = Q(companion="", venue=Venue.HOME)
COUNTS = {"n": Count("pk"), "alone": Count("pk", filter=ALONE_AT_HOME)}


def _high_risk(now):
    return Session.objects.filter(risk=HIGH, started_at__gte=now - figures.RECENT)


def per_team(organisation_id, team_ids, now) -> dict[int, Figure]:
    people = Person.objects.filter(organisation_id=organisation_id, team_id__in=team_ids)
    team = Subquery(Person.objects.filter(pk=OuterRef("worker_id")).order_by()
                    .values("team_id")[:1])
    # "+ 0": matched by worker through the index on it, a whole trust's sessions would be
    # read one worker at a time (SQLite chose that: 0.5 s for 10,000 staff); this way
    # only the high-risk visits are read, through their own index (session_high_risk_idx).
    rows = (_high_risk(now).alias(worker_read=F("worker_id") + 0)
            .filter(worker_read__in=people.values("pk"))
            .annotate(team=team).values("team").annotate(**COUNTS))
    return {row["team"]: Figure(row["alone"], row["n"]) for row in rows}


def per_person(organisation_id, team_ids, now) -> dict[int, Figure]:
    rows = (_high_risk(now).filter(worker__organisation_id=organisation_id,
                                   worker__team_id__in=team_ids)
            .values("worker_id").annotate(**COUNTS))
    return {row["worker_id"]: Figure(row["alone"], row["n"]) for row in rows}


HIGH_RISK_ALONE = figures.Column(
    key="high_risk_visits_alone", label="High-risk visits made alone",
    owner="markers", group=figures.LIVE,
    counts="Of the high-risk visits the team's workers started in the last 90 days, how "
           "many went ahead alone at the person's home on a manager's exception (not "
           "accompanied, not at a neutral or secure place).",
    per_team=per_team, per_person=per_person,
    kind=figures.FRACTION, good=figures.LOWER, amber=0, red=10, order=400)

figures.register(HIGH_RISK_ALONE)
