"""External security provision on the web (RSK-07): the list the caller may see; the
request, after an MDT meeting, by a team's line manager or the security manager; and the
executive's sign-off from their own account."""

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from lonewatch.core import permissions as perms
from lonewatch.core.permissions import fetch_or_refuse
from lonewatch.governance import actions
from lonewatch.governance.models import SecurityProvision
from lonewatch.governance.permissions import PROVISION
from lonewatch.org.models import Team
from lonewatch.visits.forms import date_input


class ProvisionForm(forms.Form):
    team = forms.ModelChoiceField(label="Team", queryset=Team.objects.none())
    service_user = forms.CharField(label="Service user reference (not their name)",
                                   max_length=200)
    address = forms.CharField(label="Address", max_length=300)
    why_care_continues = forms.CharField(
        label="Why care cannot be withdrawn or given somewhere else",
        widget=forms.Textarea(attrs={"rows": 3}), max_length=5000)
    mdt_date = forms.DateField(label="Date of the MDT meeting", widget=date_input())
    mdt_attendees = forms.CharField(label="Who attended the MDT meeting",
                                    widget=forms.Textarea(attrs={"rows": 2}), max_length=2000)
    mdt_outcome = forms.CharField(label="What the MDT meeting decided, and the other options "
                                        "it considered",
                                  widget=forms.Textarea(attrs={"rows": 3}), max_length=5000)
    starts_on = forms.DateField(label="Start date", widget=date_input())
    ends_on = forms.DateField(label="End date (at most 90 days on)", widget=date_input())

    def __init__(self, *args, teams=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = teams if teams is not None else Team.objects.none()


def _teams(user):
    return perms.filter_visible(user, Team.objects.select_related("directorate"))


def provisions(request, form=None, status=200):
    found = perms.filter_visible(request.user, SecurityProvision.objects.select_related(
        "team", "signed_off_by__person"))
    may_ask = perms.can_anywhere(request.user, perms.CHANGE, PROVISION)
    if not (found.exists() or may_ask or perms.can_anywhere(request.user, perms.VIEW,
                                                            PROVISION)):
        raise PermissionDenied("Security provision is for managers and the security manager.")
    rows = list(found)
    for provision in rows:
        provision.may_sign = provision.state == SecurityProvision.State.REQUESTED and \
            perms.can(request.user, perms.ACT, PROVISION, provision) and \
            provision.requested_by_id != request.user.pk
    return render(request, "governance/provisions.html", {
        "provisions": rows, "may_ask": may_ask,
        "form": form or ProvisionForm(teams=_teams(request.user))}, status=status)


@require_POST
def ask(request):
    form = ProvisionForm(request.POST, teams=_teams(request.user))
    if form.is_valid():
        values = dict(form.cleaned_data)
        team = values.pop("team")
        try:
            actions.do_request_provision(team, actor=request.user, **values)
        except actions.GovernanceError as error:
            form.add_error(error.field if error.field in form.fields else None, str(error))
        else:
            messages.success(request, "Asked for. It starts only once an executive director "
                                      "signs it off.")
            return redirect("provisions")
    return provisions(request, form=form, status=400)


@require_POST
def sign_off(request, provision_id):
    provision = fetch_or_refuse(request.user, SecurityProvision.objects.select_related(
        "team__directorate"), provision_id, PROVISION, perms.ACT,
        missing="No such security provision, or not one you can see.")
    approve = request.POST.get("decision") == "approve"
    try:
        actions.do_sign_off_provision(provision, actor=request.user, approve=approve,
                                      note=request.POST.get("note", "")[:5000])
    except actions.GovernanceError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, "Signed off: it is active." if approve else "Declined.")
    return redirect("provisions")
