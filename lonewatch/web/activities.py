"""A team's lone-working activities on the web (RSK-01): the team manager lists what the
team does alone, the risks of each and who does it, and submits the list; the
directorate lead accepts it or returns it with comments; every version stays readable."""

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from lonewatch.core import permissions as perms
from lonewatch.core.permissions import fetch_or_refuse
from lonewatch.governance import actions
from lonewatch.governance.models import RiskType, Submission
from lonewatch.governance.permissions import ACTIVITIES
from lonewatch.org.access import access_team

RISK_ROWS = 3  # risk lines offered on the form; more after saving


class ActivityForm(forms.Form):
    title = forms.CharField(label="What is the activity?", max_length=200,
                            error_messages={"required": "Say what the activity is."})
    where = forms.CharField(label="Where does it happen?", max_length=300, required=False)
    when = forms.CharField(label="When does it happen?", max_length=300, required=False)
    roles = forms.CharField(label="Which roles do it?", max_length=300, required=False)
    people = forms.MultipleChoiceField(label="Who does it?", required=False,
                                       widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, team=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.team_people = {str(p.pk): p for p in team.members.filter(user__is_active=True)
                            .order_by("full_name")} if team else {}
        self.fields["people"].choices = [(pk, p.full_name) for pk, p in
                                         self.team_people.items()]
        for number in range(1, RISK_ROWS + 1):
            self.fields[f"risk_type_{number}"] = forms.ChoiceField(
                label=f"Risk {number}: type", required=False,
                choices=[("", "Choose a type")] + RiskType.choices)
            self.fields[f"risk_{number}"] = forms.CharField(
                label=f"Risk {number}: what could go wrong", max_length=2000, required=False)

    def risks(self) -> list[dict]:
        data = self.cleaned_data
        return [{"risk_type": data[f"risk_type_{n}"], "description": data[f"risk_{n}"]}
                for n in range(1, RISK_ROWS + 1)
                if data[f"risk_type_{n}"] or data[f"risk_{n}"].strip()]

    def chosen_people(self) -> list:
        return [self.team_people[pk] for pk in self.cleaned_data["people"]]


def team_activities(request, team_id, form=None, status=200):
    team = access_team(request.user, team_id)
    versions = list(perms.filter_visible(request.user, team.submissions.all())
                    .prefetch_related("activities__risks", "activities__people")
                    .order_by("-version"))
    if not versions and not perms.can(request.user, perms.CHANGE, ACTIVITIES,
                                      Submission(team=team, version=0)):
        raise PermissionDenied("The team's lone-working activities are its managers'.")
    current = versions[0] if versions else None
    # What changed since the version before, for the directorate lead reviewing it.
    before = ({a.title for a in versions[1].activities.all()} if len(versions) > 1
              else None)
    now_titles = {a.title for a in current.activities.all()} if current else set()
    editable = current is None or current.state in (Submission.State.DRAFT,
                                                    Submission.State.RETURNED)
    may_edit = perms.can(request.user, perms.CHANGE, ACTIVITIES,
                         current or Submission(team=team, version=0))
    return render(request, "governance/activities.html", {
        "team": team, "current": current, "earlier": versions[1:],
        "before": before, "removed": sorted(before - now_titles) if before else [],
        "may_edit": may_edit and editable,
        "may_review": current is not None and current.state == Submission.State.SUBMITTED
        and perms.can(request.user, perms.ACT, ACTIVITIES, current),
        "form": form or ActivityForm(team=team),
    }, status=status)


@require_POST
def add_activity(request, team_id):
    team = access_team(request.user, team_id)
    form = ActivityForm(request.POST, team=team)
    if form.is_valid():
        try:
            draft = actions.draft_of(team, actor=request.user)
            actions.do_add_activity(draft, actor=request.user, title=form.cleaned_data["title"],
                                    where=form.cleaned_data["where"],
                                    when=form.cleaned_data["when"],
                                    roles=form.cleaned_data["roles"],
                                    people=form.chosen_people(), risks=form.risks())
        except actions.GovernanceError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, "Activity added.")
            return redirect("team_activities", team.pk)
    return team_activities(request, team_id, form=form, status=400)


def _submission(request, submission_id, action) -> Submission:
    return fetch_or_refuse(request.user, Submission.objects.select_related(
        "team__directorate"), submission_id, ACTIVITIES, action,
        missing="No such list of activities, or not one you can see.")


@require_POST
def submit(request, submission_id):
    submission = _submission(request, submission_id, perms.CHANGE)
    try:
        actions.do_submit(submission, actor=request.user)
    except actions.GovernanceError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, "Submitted to the directorate.")
    return redirect("team_activities", submission.team_id)


@require_POST
def decide(request, submission_id):
    submission = _submission(request, submission_id, perms.ACT)
    accept = request.POST.get("decision") == "accept"
    try:
        actions.do_review(submission, actor=request.user, accept=accept,
                          comments=request.POST.get("comments", "")[:5000])
    except actions.GovernanceError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, "Accepted." if accept else
                         "Returned to the team with your comments.")
    return redirect("team_activities", submission.team_id)

