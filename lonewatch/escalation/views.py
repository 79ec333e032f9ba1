"""A team's escalation policy, as its managers see and change it (ESC-01)."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render

from lonewatch.core import permissions as perms
from lonewatch.core.access import access_team
from lonewatch.escalation import policy
from lonewatch.escalation.models import Channel, Target

ROWS = 8


def _rows(steps) -> list[dict]:
    rows = [{"minutes": s.after_seconds // 60 if s.after_seconds % 60 == 0
             else round(s.after_seconds / 60, 2), "target": s.target,
             "channels": list(s.channels)} for s in steps]
    return rows + [{"minutes": "", "target": "", "channels": []}] * (ROWS - len(rows))


def team_policy(request, team_id):
    team = access_team(request.user, team_id)
    if not perms.can(request.user, perms.VIEW, perms.POLICY, team):
        raise PermissionDenied("Only the team's managers can see its escalation policy.")
    can_change = perms.can(request.user, perms.CHANGE, perms.POLICY, team)
    error, status, rows = None, 200, None
    if request.method == "POST":
        if not can_change:
            raise PermissionDenied("Only the team's managers can change its escalation policy.")
        raw, rows = [], []
        for i in range(ROWS):
            minutes = request.POST.get(f"step-{i}-minutes", "").strip()
            target = request.POST.get(f"step-{i}-target", "")
            channels = request.POST.getlist(f"step-{i}-channels")
            rows.append({"minutes": minutes, "target": target, "channels": channels})
            if not minutes and not target:
                continue
            try:
                seconds = round(float(minutes) * 60)
            except ValueError:
                seconds = -1
            raw.append({"after_seconds": seconds, "notify": target, "channels": channels})
        try:
            policy.do_set_policy(team, raw, actor=request.user)
        except policy.PolicyError as problem:
            error, status = str(problem).replace("after_seconds", "minutes after"), 400
        else:
            messages.success(request, "Saved. New missed check-ins follow these steps; ones "
                                      "already escalating keep the steps they started with.")
            return redirect("team_policy", team_id=team.pk)
    return render(request, "escalation/policy.html", {
        "team": team, "steps": policy.steps_for(team), "rows": rows or _rows(
            policy.steps_for(team)), "can_change": can_change, "error": error,
        "targets": Target.choices, "channels": Channel.choices,
    }, status=status)
