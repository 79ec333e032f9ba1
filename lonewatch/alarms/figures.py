"""Alarms' column on the governance dashboard (RSK-05): red alerts in the last 90 days by
the team of the worker who raised them; drills are not counted, nor alerts the alarm
centre closed as false alarms."""

from django.db.models import Count, Q

from lonewatch.alarms.models import Alarm
from lonewatch.core import figures
from lonewatch.core.figures import Figure


def _counted(organisation_id, now):
    return (Alarm.objects.filter(organisation_id=organisation_id, kind=Alarm.Kind.RED,
                                 drill=False, raised_at__gte=now - figures.RECENT)
            .exclude(category=Alarm.Category.FALSE))


def _red_alerts(by: str):
    def compute(organisation_id, team_ids, now) -> dict[int, Figure]:
        rows = (_counted(organisation_id, now).filter(worker__team_id__in=team_ids)
                .values(by).annotate(n=Count("pk")))
        return {row[by]: Figure(row["n"]) for row in rows}

    return compute


def unseen_by(organisation_id, person_id, now) -> dict[int, Figure]:
    """MOV-04: the red alerts the reader raised that their own account must not know of
    (raised with the duress PIN, or kept alive by a cancel with it): to them, the
    dashboard reads as if those had never been raised."""
    rows = (_counted(organisation_id, now).filter(worker_id=person_id)
            .filter(Q(hidden_from_worker=True) | Q(worker_view__isnull=False))
            .values("worker__team_id").annotate(n=Count("pk")))
    return {row["worker__team_id"]: Figure(row["n"]) for row in rows}


RED_ALERTS = figures.Column(
    key="red_alerts", label="Red alerts", owner="alarms", group=figures.LIVE,
    counts="Red alerts raised in the last 90 days by the team's workers, genuine or still "
           "open; drills and false alarms are not counted.",
    per_team=_red_alerts("worker__team_id"), per_person=_red_alerts("worker_id"),
    unseen_by=unseen_by,
    kind=figures.COUNT, good=figures.LOWER, amber=0, red=2, order=200)

figures.register(RED_ALERTS)
