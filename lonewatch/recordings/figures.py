"""Recordings' column on the governance dashboard (RSK-05): alarm reviews overdue, by the
team of the worker whose alarm waits for the security manager's review (REC-04)."""

from django.db.models import Count

from lonewatch.core import figures
from lonewatch.core.figures import Figure
from lonewatch.recordings.actions import overdue
from lonewatch.recordings.models import Review


def _overdue(by: str):
    def compute(organisation_id, team_ids, now) -> dict[int, Figure]:
        rows = (Review.objects.filter(overdue(now), organisation_id=organisation_id,
                                      alarm__worker__team_id__in=team_ids)
                .values(by).annotate(n=Count("pk")))
        return {row[by]: Figure(row["n"]) for row in rows}

    return compute


REVIEWS_OVERDUE = figures.Column(
    key="alarm_reviews_overdue", label="Alarm reviews overdue", owner="recordings",
    group=figures.LIVE,
    counts="Reviews of the team's alarms (genuine alarms closed safely, false alarms "
           "flagged as possible duress) not recorded by their due date.",
    per_team=_overdue("alarm__worker__team_id"), per_person=_overdue("alarm__worker_id"),
    kind=figures.COUNT, good=figures.LOWER, amber=0, red=1, order=300)

figures.register(REVIEWS_OVERDUE)
