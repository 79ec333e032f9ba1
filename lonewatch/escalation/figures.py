"""Escalation's columns on the governance dashboard (RSK-05): missed check-ins in the
last 90 days, by the team of the worker who missed them, and how many of them turned out
to be a worker who forgot to check in or out."""

from django.db.models import Count, OuterRef, Q, Subquery

from lonewatch.core import figures
from lonewatch.core.figures import Figure
from lonewatch.escalation.models import Escalation
from lonewatch.visits.models import Session

COUNTS = {"n": Count("pk"),
          "forgot": Count("pk", filter=Q(outcome=Escalation.Outcome.FORGOT))}


@figures.shared
def _by_team(organisation_id, team_ids, now) -> dict[int, dict]:
    """The counts of the last 90 days' escalations by the team of their worker. Each
    escalation's team is looked up on its own: joined to the sessions as a whole,
    PostgreSQL read the entire sessions table for a trust's 2,000 recent escalations
    (50 ms against 12 ms)."""
    team = Subquery(Session.objects.filter(pk=OuterRef("session_id"),
                                           worker__organisation_id=organisation_id)
                    .order_by().values("worker__team_id")[:1])
    wanted = set(team_ids)
    rows = (Escalation.objects.filter(missed_at__gte=now - figures.RECENT)
            .annotate(team=team).values("team").annotate(**COUNTS))
    return {row["team"]: row for row in rows if row["team"] in wanted}


@figures.shared
def _by_person(organisation_id, team_ids, now) -> dict[int, dict]:
    rows = (Escalation.objects.filter(session__worker__organisation_id=organisation_id,
                                      session__worker__team_id__in=team_ids,
                                      missed_at__gte=now - figures.RECENT)
            .values("session__worker_id").annotate(**COUNTS))
    return {row["session__worker_id"]: row for row in rows}


def _missed(counts):
    def compute(organisation_id, team_ids, now) -> dict[int, Figure]:
        return {key: Figure(row["n"])
                for key, row in counts(organisation_id, team_ids, now).items()}

    return compute


def _forgot(counts):
    def compute(organisation_id, team_ids, now) -> dict[int, Figure]:
        return {key: Figure(row["forgot"], row["n"])
                for key, row in counts(organisation_id, team_ids, now).items()}

    return compute


MISSED_CHECK_INS = figures.Column(
    key="missed_check_ins", label="Missed check-ins", owner="escalation",
    group=figures.LIVE,
    counts="Escalations started in the last 90 days because a worker of the team missed a "
           "check-in or the end of a session.",
    per_team=_missed(_by_team), per_person=_missed(_by_person),
    kind=figures.COUNT, good=figures.LOWER, amber=2, red=5, order=100)

FORGOT_TO_CHECK_OUT = figures.Column(
    key="forgot_to_check_out", label="Forgot to check in or out",
    owner="escalation", group=figures.LIVE,
    counts="Of those missed check-ins, how many were resolved as a worker who forgot to "
           "check in or out (false: no danger, but people were called out).",
    per_team=_forgot(_by_team), per_person=_forgot(_by_person),
    kind=figures.FRACTION, good=figures.LOWER, amber=25, red=50, order=110)

figures.register(MISSED_CHECK_INS)
figures.register(FORGOT_TO_CHECK_OUT)
