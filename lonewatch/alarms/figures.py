"""Alarms' column on the governance dashboard (RSK-05): red alerts in the last 90 days by
the team of the worker who raised them; drills are not counted, nor alerts the alarm
centre closed as false alarms."""

from django.db.models import Count

from lonewatch.alarms.models import Alarm
from lonewatch.core import figures
from lonewatch.core.figures import Figure


def _red_alerts(by: str):
    def compute(organisation_id, team_ids, now) -> dict[int, Figure]:
        rows = (Alarm.objects.filter(organisation_id=organisation_id,
                                     worker__team_id__in=team_ids, kind=Alarm.Kind.RED,
                                     drill=False, raised_at__gte=now - figures.RECENT)
                .exclude(category=Alarm.Category.FALSE)
                .values(by).annotate(n=Count("pk")))
        return {row[by]: Figure(row["n"]) for row in rows}

    return compute


RED_ALERTS = figures.Column(
    key="red_alerts", label="Red alerts", owner="alarms",
    counts="Red alerts raised in the last 90 days by the team's workers, genuine or still "
           "open; drills and false alarms are not counted.",
    per_team=_red_alerts("worker__team_id"), per_person=_red_alerts("worker_id"),
    kind=figures.COUNT, good=figures.LOWER, amber=0, red=2, order=200)

figures.register(RED_ALERTS)
