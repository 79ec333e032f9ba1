"""Escalation policies as managers see and change them: a team's, and the trust default
that every team without its own follows (ESC-01)."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from lonewatch.core import permissions as perms
from lonewatch.escalation import actions as escalations
from lonewatch.escalation import policy
from lonewatch.escalation.access import (
    access_default_policy,
    access_escalation,
    access_team_policy,
)
from lonewatch.escalation.forms import ResolveForm
from lonewatch.escalation.models import EscalationPolicy, Target
from lonewatch.escalation.permissions import ESCALATION, POLICY
from lonewatch.notify.models import Channel
from lonewatch.org.models import Team
from lonewatch.org.permissions import CONTACT, NEXT_OF_KIN
from lonewatch.visits.access import timeline

ROWS = 8
SAVED = ("Saved. New missed check-ins follow these steps; ones already escalating keep the "
         "steps they started with.")
# What the page says for each kind of problem, in its own words (the API's name fields),
# and which of the step's inputs the error summary links to.
PROBLEMS = {
    "after_seconds": ("Step {n}: enter the minutes after the deadline as a number from 0 to "
                      f"{policy.MAX_AFTER_SECONDS // 60}", "minutes"),
    "order": ("Step {n} is earlier than the step above it: the steps must be in order of "
              "minutes after the deadline", "minutes"),
    "notify": ("Step {n}: choose who is told", "target"),
    "channels": ("Step {n}: choose at least one way to tell them", Channel.values[0]),
}


def _rows(steps) -> list[dict]:
    rows = [{"minutes": s.after_seconds // 60 if s.after_seconds % 60 == 0
             else round(s.after_seconds / 60, 2), "target": s.target,
             "channels": list(s.channels)} for s in steps]
    return rows + [{"minutes": "", "target": "", "channels": []}] * (ROWS - len(rows))


def _posted_rows(post) -> list[dict]:
    """The rows as typed: at least ROWS, and more when the policy had more steps (the API
    allows up to MAX_STEPS), so that saving on the page never drops a step."""
    rows = [{"minutes": post.get(f"step-{i}-minutes", "").strip(),
             "target": post.get(f"step-{i}-target", ""),
             "channels": post.getlist(f"step-{i}-channels")} for i in range(policy.MAX_STEPS)]
    while len(rows) > ROWS and not (rows[-1]["minutes"] or rows[-1]["target"]):
        rows.pop()
    return rows


def _posted_steps(post) -> tuple[list[dict], list[dict], list[int]]:
    """The form's rows as typed, the steps they describe, and the row each step came from
    (empty rows are skipped, so step 2 may be row 5)."""
    raw, rows, row_of = [], _posted_rows(post), []
    for i, row in enumerate(rows):
        if not row["minutes"] and not row["target"]:
            continue
        try:
            seconds = round(float(row["minutes"]) * 60)
        except (ValueError, OverflowError):  # not a number, or "nan" or "inf"
            seconds = -1
        raw.append({"after_seconds": seconds, "notify": row["target"],
                    "channels": row["channels"]})
        row_of.append(i)
    return raw, rows, row_of


def _save_posted(request, save) -> tuple[list[dict], list[tuple[str, str]] | None]:
    """Save the posted steps with ``save(raw_steps)``; the rows as typed, and what is wrong
    (for the NHS error summary) or None once saved."""
    raw, rows, row_of = _posted_steps(request.POST)
    try:
        save(raw)
    except policy.PolicyError as problem:
        if problem.step is None:  # no step at all (the form has no room for too many)
            return rows, [("#step-0-minutes", "Enter at least one step.")]
        row = row_of[problem.step - 1]
        words, where = PROBLEMS[problem.field]
        rows[row] = rows[row] | {"error": words.format(n=row + 1) + "."}
        return rows, [(f"#step-{row}-{where}", rows[row]["error"])]
    return rows, None


def _page(request, context: dict, status: int = 200):
    context = {"targets": Target.choices, "channels": Channel.choices,
               "default_url": reverse("default_policy")} | context
    return render(request, "escalation/policy.html", context, status=status)


def team_policy(request, team_id):
    team = access_team_policy(request.user, team_id)
    can_change = perms.can(request.user, perms.CHANGE, POLICY, team)
    rows, errors = None, None
    if request.method == "POST":
        access_team_policy(request.user, team_id, action=perms.CHANGE)
        rows, errors = _save_posted(
            request, lambda raw: policy.do_set_policy(team, raw, actor=request.user))
        if errors is None:
            messages.success(request, SAVED)
            return redirect("team_policy", team_id=team.pk)
    steps, source = policy.in_force(team.pk, team.directorate.organisation_id)
    return _page(request, {
        "team": team, "caption": team.name, "heading": "When someone misses a check-in",
        "title": f"Escalation policy: {team.name}", "steps": steps, "source": source,
        "rows": rows or _rows(steps), "can_change": can_change, "error_items": errors,
    }, status=400 if errors else 200)


@require_POST
def team_policy_follow_default(request, team_id):
    team = access_team_policy(request.user, team_id, action=perms.CHANGE)
    if policy.do_clear_team_policy(team, actor=request.user):
        messages.success(request, f"{team.name} now follows the trust default escalation "
                                  "policy. Missed check-ins that are already escalating keep "
                                  "the steps they started with.")
    else:
        messages.info(request, f"{team.name} already follows the trust default escalation "
                               "policy.")
    return redirect("team_policy", team_id=team.pk)


def default_policy(request):
    organisation = access_default_policy(request.user)
    can_change = perms.can(request.user, perms.CHANGE, POLICY, organisation)
    rows, errors = None, None
    if request.method == "POST":
        access_default_policy(request.user, action=perms.CHANGE)
        rows, errors = _save_posted(request, lambda raw: policy.do_set_default_policy(
            organisation, raw, actor=request.user))
        if errors is None:
            messages.success(request, SAVED)
            return redirect("default_policy")
    steps, source = policy.in_force(None, organisation.pk)
    own = EscalationPolicy.objects.filter(organisation=organisation, team__isnull=False)
    own_ids = list(own.values_list("team_id", flat=True))
    own_teams = list(perms.filter_visible(
        request.user, Team.objects.filter(pk__in=own_ids).select_related("directorate"),
        perms.VIEW, POLICY).order_by("directorate__name", "name"))
    return _page(request, {
        "caption": organisation.name, "heading": "Trust default escalation policy",
        "title": "Trust default escalation policy", "steps": steps, "source": source,
        "own_teams": own_teams, "other_own_teams": len(own_ids) - len(own_teams),
        "rows": rows or _rows(steps), "can_change": can_change, "error_items": errors,
    }, status=400 if errors else 200)


def escalation_detail(request, escalation_id, form=None, status=200):
    escalation = access_escalation(request.user, escalation_id)
    session = escalation.session
    return render(request, "visits/escalation_detail.html", {
        "escalation": escalation, "session": session,
        "events": timeline(session, request.user).filter(at__gte=escalation.missed_at)
        .reverse(),
        "can_act": perms.can(request.user, perms.ACT, ESCALATION, escalation),
        "can_contact": perms.can(request.user, perms.VIEW, CONTACT, session.worker),
        "can_next_of_kin": perms.can(request.user, perms.VIEW, NEXT_OF_KIN,
                                     session.worker),
        "form": form or ResolveForm(),
    }, status=status)


@require_POST
def acknowledge(request, escalation_id):
    escalation = access_escalation(request.user, escalation_id, action=perms.ACT)
    try:
        escalations.do_acknowledge(escalation, actor=request.user)
    except escalations.EscalationConflict as error:
        messages.error(request, str(error))
    else:
        messages.success(request, "Others have been told you are handling this.")
    return redirect("escalation", escalation_id=escalation.pk)


@require_POST
def resolve(request, escalation_id):
    escalation = access_escalation(request.user, escalation_id, action=perms.ACT)
    form = ResolveForm(request.POST)
    if not form.is_valid():
        return escalation_detail(request, escalation_id, form=form, status=400)
    try:
        escalations.do_resolve(escalation, outcome=form.cleaned_data["outcome"],
                               note=form.cleaned_data["note"], actor=request.user)
    except escalations.EscalationConflict as error:
        messages.error(request, str(error))
    else:
        messages.success(request, "Recorded. Thank you.")
    return redirect("escalation", escalation_id=escalation.pk)
