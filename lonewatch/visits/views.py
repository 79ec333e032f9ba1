"""A session's own page, and what the worker sets for their sessions: the check-out and
duress PINs and consent to location being kept (MOV-02, MOV-04, MOV-05)."""


from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from lonewatch.core import permissions as perms
from lonewatch.org.access import access_me
from lonewatch.org.permissions import CONTACT, NEXT_OF_KIN
from lonewatch.visits import actions
from lonewatch.visits.access import access_session, timeline
from lonewatch.visits.actions import SessionError
from lonewatch.visits.forms import PinForm


def session_detail(request, session_id):
    session = access_session(request.user, session_id)
    return render(request, "visits/session_detail.html", {
        "session": session, "events": timeline(session, request.user).reverse(),
        "escalations": session.escalations.all(),
        "can_contact": perms.can(request.user, perms.VIEW, CONTACT, session.worker),
        "can_next_of_kin": perms.can(request.user, perms.VIEW, NEXT_OF_KIN,
                                     session.worker),
    })
























def _save_pin(request, setter, anchor: str, done: str):
    me = access_me(request.user)
    form = PinForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(form.errors["pin"]))
    else:
        try:
            setter(me, pin=form.cleaned_data["pin"], actor=request.user)
        except SessionError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, done)
    return redirect(reverse("profile") + anchor)


@require_POST
def set_pin(request):
    return _save_pin(request, actions.do_set_pin, "#pin", "Your check-out PIN is set.")


@require_POST
def set_duress_pin(request):
    return _save_pin(request, actions.do_set_duress_pin, "#duress", "Your duress PIN is set.")


@require_POST
def location_consent(request):
    me = access_me(request.user)
    consent = request.POST.get("consent") == "yes"
    actions.do_set_location_consent(me, consent=consent, actor=request.user)
    messages.success(request, "Location will be kept while a session runs." if consent
                     else "Location will not be kept.")
    return redirect(reverse("profile") + "#location")
