"""BS 8484 figures and monthly alarm statistics (ALM-03): computed from the stored
alarms, drills never counted."""

import csv
import io
from dataclasses import dataclass, field
from datetime import date, timedelta
from math import ceil

from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone

from lonewatch import clock
from lonewatch.alarms.models import Alarm
from lonewatch.alarms.permissions import ALARM
from lonewatch.core import permissions as perms
from lonewatch.org.models import Team

# BS 8484:2016 answer-time targets, as its certified suppliers quote them.
TARGET_10S, TARGET_40S = 80.0, 98.5


def _p95(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, ceil(0.95 * len(ordered)) - 1)]


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


@dataclass
class Month:
    label: str
    red: int = 0
    amber: int = 0
    genuine: int = 0
    genuine_safe: int = 0
    false: int = 0
    ack: list[float] = field(default_factory=list)
    close: list[float] = field(default_factory=list)

    @property
    def false_rate(self):
        closed = self.genuine + self.genuine_safe + self.false
        return 100 * self.false / closed if closed else None

    @property
    def ack_mean(self):
        return _mean(self.ack)

    @property
    def ack_p95(self):
        return _p95(self.ack)

    @property
    def close_mean(self):
        return _mean(self.close)

    @property
    def close_p95(self):
        return _p95(self.close)


def figures(alarms) -> dict:
    now = clock.now()
    year_ago = now - timedelta(days=365)
    reds = [a for a in alarms if a.kind == Alarm.Kind.RED and a.raised_at >= year_ago]
    acked = [(a.acknowledged_at - a.raised_at).total_seconds() for a in reds
             if a.acknowledged_at]
    within10 = 100 * sum(s <= 10 for s in acked) / len(reds) if reds else None
    within40 = 100 * sum(s <= 40 for s in acked) / len(reds) if reds else None
    months: dict[str, Month] = {}
    today = timezone.localdate(now)
    for back in range(11, -1, -1):
        index = today.year * 12 + today.month - 1 - back
        first = date(index // 12, index % 12 + 1, 1)
        months[first.strftime("%Y-%m")] = Month(first.strftime("%b %Y"))
    for a in alarms:
        month = months.get(timezone.localtime(a.raised_at).strftime("%Y-%m"))
        if month is None:
            continue
        if a.kind == Alarm.Kind.AMBER:
            month.amber += 1
            continue
        month.red += 1
        if a.category == Alarm.Category.GENUINE:
            month.genuine += 1
        elif a.category == Alarm.Category.GENUINE_SAFE:
            month.genuine_safe += 1
        elif a.category == Alarm.Category.FALSE:
            month.false += 1
        if a.acknowledged_at:
            month.ack.append((a.acknowledged_at - a.raised_at).total_seconds())
        if a.closed_at:
            month.close.append((a.closed_at - a.raised_at).total_seconds())
    top = max([m.red for m in months.values()] + [1])
    return {"reds": len(reds), "within10": within10, "within40": within40,
            "unacknowledged": sum(1 for a in reds if not a.acknowledged_at),
            "months": list(months.values()), "top": top,
            "target10": TARGET_10S, "target40": TARGET_40S}


def alarm_report(request):
    if not perms.can_anywhere(request.user, perms.VIEW, ALARM):
        raise PermissionDenied("The alarm report is for managers, the alarm centre and the "
                               "security team.")
    teams = perms.filter_visible(request.user, Team.objects.all()).order_by("name")
    team_id = request.GET.get("team", "")
    alarms = perms.filter_visible(request.user, Alarm.objects.filter(drill=False))
    if team_id.isdigit():
        alarms = alarms.filter(worker__team_id=int(team_id))
    result = figures(list(alarms.filter(
        raised_at__gte=clock.now() - timedelta(days=366)).only(
        "kind", "raised_at", "acknowledged_at", "closed_at", "category")))
    if request.GET.get("format") == "csv":
        return _csv(result)
    return render(request, "alarms/report.html", result | {
        "teams": teams, "team_id": team_id})


def _csv(result) -> HttpResponse:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["month", "red alarms", "amber alerts", "genuine", "genuine closed safely",
                     "false alarms", "false alarm rate %", "mean seconds to acknowledge",
                     "p95 seconds to acknowledge", "mean seconds to close",
                     "p95 seconds to close"])

    def fmt(value):
        return "" if value is None else f"{value:.1f}"

    for m in result["months"]:
        writer.writerow([m.label, m.red, m.amber, m.genuine, m.genuine_safe, m.false,
                         fmt(m.false_rate), fmt(m.ack_mean), fmt(m.ack_p95),
                         fmt(m.close_mean), fmt(m.close_p95)])
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="lonewatch-alarms.csv"'
    return response
