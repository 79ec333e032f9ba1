"""The risk marker register's pages (PRE-01, PRE-03, PRE-06): the security manager's
register with what needs a decision (proposals from visits, markers past their review
date), and one marker's page for its owner or the security manager to review it."""

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from lonewatch import clock
from lonewatch.core import permissions as perms
from lonewatch.markers import access, actions
from lonewatch.markers.models import Category, Marker
from lonewatch.markers.permissions import MARKER
from lonewatch.org.access import access_me
from lonewatch.visits.forms import date_input


class ReviewForm(forms.Form):
    review_on = forms.DateField(label="Next review date",
                                widget=date_input(),
                                error_messages={"required": "Enter the next review date.",
                                                "invalid": "Enter a real date."})
    nature = forms.CharField(label="The risk (leave as it is if unchanged)", max_length=5000,
                             widget=forms.Textarea(attrs={"rows": 3}), required=False)
    advice = forms.CharField(label="Advice for whoever visits", max_length=5000,
                             widget=forms.Textarea(attrs={"rows": 3}), required=False)


class DecisionForm(forms.Form):
    category = forms.ChoiceField(label="Category", choices=Category.choices)
    advice = forms.CharField(label="Advice for whoever visits", max_length=5000,
                             widget=forms.Textarea(attrs={"rows": 3}), required=False)
    review_on = forms.DateField(label="Review date", required=False,
                                widget=date_input(),
                                error_messages={"invalid": "Enter a real date."})


def register(request):
    if not access.keeps_register(request.user):
        raise PermissionDenied("The risk register is the security manager's.")
    me = access_me(request.user)
    today = timezone.localdate(clock.now())
    live = Marker.objects.filter(organisation_id=me.organisation_id, ended_at__isnull=True)
    proposed = list(live.filter(state=Marker.State.PROPOSED).select_related("raised_by"))
    expired = list(live.filter(state=Marker.State.ACTIVE, review_on__lt=today))
    active = list(live.filter(state=Marker.State.ACTIVE, review_on__gte=today)[:500])
    actions.audit_read(proposed + expired + active, actor=request.user,
                       why="listed in the register")
    return render(request, "markers/register.html", {
        "proposed": proposed, "expired": expired, "active": active, "today": today})


def marker(request, marker_id, review_form=None, decision_form=None, status=200):
    found = access.access_marker(request.user, marker_id)
    keeper = perms.can(request.user, perms.CHANGE, MARKER, found)
    return render(request, "markers/marker.html", {
        "marker": found, "today": timezone.localdate(clock.now()),
        "may_review": access.may_review(request.user, found) and
        found.state == Marker.State.ACTIVE,
        "may_decide": keeper and found.state == Marker.State.PROPOSED,
        "shares": found.shares.select_related("shared_by") if keeper else [],
        "review_form": review_form or ReviewForm(initial={"advice": found.advice}),
        "decision_form": decision_form or DecisionForm(initial={
            "category": found.category}),
    }, status=status)


@require_POST
def review(request, marker_id):
    found = access.access_marker(request.user, marker_id)
    if not access.may_review(request.user, found):
        raise PermissionDenied("Only the marker's owner or the security manager reviews it.")
    form = ReviewForm(request.POST)
    if form.is_valid():
        try:
            actions.do_review_marker(found, actor=request.user, **form.cleaned_data)
        except actions.MarkerError as error:
            form.add_error(error.field if error.field in form.fields else None, str(error))
        else:
            messages.success(request, "Marker reviewed.")
            return redirect("marker", found.pk)
    return marker(request, marker_id, review_form=form, status=400)


@require_POST
def decide(request, marker_id):
    found = access.access_marker(request.user, marker_id)
    if not perms.can(request.user, perms.CHANGE, MARKER, found):
        raise PermissionDenied("Only the security manager decides on a proposed marker.")
    accept = request.POST.get("decision") == "accept"
    form = DecisionForm(request.POST)
    if not accept or form.is_valid():
        try:
            actions.do_decide_proposal(found, actor=request.user, accept=accept,
                                       **(form.cleaned_data if accept else {}))
        except actions.MarkerError as error:
            form.add_error(error.field if error.field in form.fields else None, str(error))
        else:
            messages.success(request, "Added to the register." if accept else
                             "Proposal declined.")
            return redirect("markers")
    return marker(request, marker_id, decision_form=form, status=400)
