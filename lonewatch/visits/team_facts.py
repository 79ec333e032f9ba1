"""What visits tells a team's SOP (RSK-04), read live: the check-in intervals the
configuration allows, the interval of a planned visit, the caps a matching risk marker
sets (PRE-04), and how often the team's sessions have checked in lately. Registered with
``core.team_facts`` in ``VisitsConfig.ready()``."""

import statistics
from datetime import timedelta

from django.conf import settings

from lonewatch import clock
from lonewatch.org.models import Team
from lonewatch.visits.models import Session

# How far back, and over how many of the team's latest sessions, the typical interval
# is read: one indexed query, whatever the team's history.
TYPICAL_DAYS = 90
TYPICAL_SESSIONS = 500


def duration(seconds: int) -> str:
    """"12 hours", "90 minutes", "1 minute", "45 seconds"."""
    for size, word in ((3600, "hour"), (60, "minute"), (1, "second")):
        if seconds % size == 0 and seconds >= size:
            count = seconds // size
            return f"{count} {word}{'' if count == 1 else 's'}"
    return f"{seconds} seconds"


def check_in_intervals(team: Team) -> list[str]:
    """MOV-02, MOV-01, PRE-04: how often a worker checks in."""
    lines = [
        f"A session's check-in interval is from "
        f"{duration(settings.MIN_CHECKIN_INTERVAL_SECONDS)} to "
        f"{duration(settings.MAX_CHECKIN_INTERVAL_SECONDS)}; the worker sets it when they "
        "start (MOV-02).",
        f"A planned visit started in one tap checks in every "
        f"{duration(settings.PLANNED_VISIT_INTERVAL_SECONDS)} (MOV-01).",
    ]
    if settings.HIGH_RISK_CHECKIN_MINUTES:
        caps = "; ".join(f"{category.replace('_', ' ')}: {duration(minutes * 60)}"
                         for category, minutes in sorted(
                             settings.HIGH_RISK_CHECKIN_MINUTES.items(),
                             key=lambda item: (item[1], item[0])))
        lines.append("When a risk marker matches a visit, its check-in interval is at most "
                     f"(PRE-04): {caps}.")
    since = clock.now() - timedelta(days=TYPICAL_DAYS)
    intervals = list(Session.objects.filter(worker__team=team, started_at__gte=since)
                     .order_by("-started_at").values_list("interval_seconds", flat=True)
                     [:TYPICAL_SESSIONS])
    if intervals:
        typical = round(statistics.median(intervals))
        count = len(intervals)
        lines.append(f"In the last {TYPICAL_DAYS} days the team's sessions checked in every "
                     f"{duration(typical)} (the median of {count} session"
                     f"{'' if count == 1 else 's'}).")
    return lines
