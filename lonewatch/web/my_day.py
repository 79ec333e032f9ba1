"""My day: the lone worker's page, where a session is started, checked in on, extended
and ended, and the red alert is one tap away (MOV-01..05, ALM-01, ALM-02)."""

from datetime import timedelta

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from lonewatch import clock
from lonewatch.alarms import audio
from lonewatch.alarms.audio import MEMO_SECONDS, RECORD_SECONDS
from lonewatch.alarms.models import Alarm
from lonewatch.core import permissions as perms
from lonewatch.escalation.models import Escalation
from lonewatch.markers import access as markers
from lonewatch.notify.models import Delivery
from lonewatch.org.access import access_me
from lonewatch.org.models import Person
from lonewatch.org.roles import Role
from lonewatch.visits import actions
from lonewatch.visits.access import access_session, timeline
from lonewatch.visits.actions import SessionError
from lonewatch.visits.forms import EndForm, ExtendForm, StartForm, read_coordinate
from lonewatch.visits.models import Flag, IncidentPrompt, PlannedVisit, Session


def _open_session(person):
    return Session.objects.filter(worker=person).exclude(state=Session.State.ENDED).first()


def _covers(person):
    return (Person.objects.filter(organisation_id=person.organisation_id, roles__role=Role.BUDDY,
                                  user__is_active=True)
            .exclude(pk__in=[person.pk, person.buddy_id or 0]).distinct().order_by("full_name"))


def my_day(request, start_form=None, extend_form=None, end_form=None, status=200):
    me = access_me(request.user)
    session = _open_session(me)
    context = {"me": me, "session": session, "now": clock.now()}
    context["plan"] = _plan(me, context["now"])
    context["incident_prompts"] = IncidentPrompt.objects.filter(
        worker=me, safe_at__isnull=False, reported_at__isnull=True)[:3]
    if session is None:
        context["form"] = start_form or StartForm(
            initial={"vehicle": me.vehicle_description}, covers=_covers(me))
        context["recent"] = Session.objects.filter(worker=me, state=Session.State.ENDED)[:5]
        context["can_start"] = bool(me.buddy_id and me.buddy_accepted_at and me.pin_hash)
    else:
        context["events"] = timeline(session, request.user).reverse()[:30]
        context["extend_form"] = extend_form or ExtendForm()
        context["end_form"] = end_form or EndForm()
        context["escalation"] = session.escalations.exclude(
            state=Escalation.State.RESOLVED).first()
        context["markers"] = markers.for_session(request.user, session)
        context["signs"] = Flag.Sign.choices
        context["flagged"] = session.flags.exists()
    context["inbox"] = Delivery.objects.filter(recipient=me, channel="in_app").order_by(
        "-created_at")[:5]
    # A red alert the worker can still cancel (MOV-04: a duress PIN answers alike).
    # A discreet alert offers no cancel box: it would show on the screen.
    context["cancellable"] = Alarm.objects.filter(
        worker=me, kind=Alarm.Kind.RED, source=Alarm.Source.APP,
        cancel_until__gt=clock.now()).exclude(state=Alarm.State.CLOSED).first()
    context.update(_live_alarm(me, context["now"]))
    context["memo_seconds"] = MEMO_SECONDS
    return render(request, "visits/my_day.html", context, status=status)


def _plan(me, now):
    """MOV-01: today's planned visits and the coming days', soonest first; today's missed
    ones stay in the list, saying so."""
    today = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    return (PlannedVisit.objects.filter(worker=me, planned_end__gte=today,
                                        state__in=[PlannedVisit.State.PLANNED,
                                                   PlannedVisit.State.MISSED])
            .filter(planned_start__lt=today + timedelta(days=8))
            .order_by("planned_start")[:30])


def _live_alarm(me, now) -> dict:
    """ALM-02: the red alert this phone raised and is still open, so the page records
    and sends where the worker is. Never one raised by the duress PIN, or cancelled with
    it: to anyone holding the phone, that alarm is over (MOV-04)."""
    alarm = (Alarm.objects.filter(worker=me, kind=Alarm.Kind.RED,
                                  source__in=[Alarm.Source.APP, Alarm.Source.DISCREET])
             .exclude(state=Alarm.State.CLOSED).order_by("-raised_at").first())
    if alarm is None:
        return {}
    until = alarm.raised_at + timedelta(seconds=RECORD_SECONDS)
    # A page loaded again mid-alarm records a fresh take, numbered clear of the last.
    return {"live_alarm": alarm, "record_until": until, "record_now": now < until,
            "record_minutes": RECORD_SECONDS // 60, "next_seq": audio.next_page_seq(alarm)}


@require_POST
def start(request):
    me = access_me(request.user)
    form = StartForm(request.POST, covers=_covers(me))
    if not form.is_valid():
        return my_day(request, start_form=form, status=400)
    cover_id = form.cleaned_data.get("cover_buddy")
    try:
        actions.do_start_session(
            me, actor=request.user, buddy=me.buddy,
            cover_buddy=Person.objects.filter(pk=cover_id).first() if cover_id else None,
            **form.session_values())
    except SessionError as error:
        form.add_error(error.field if error.field in form.fields else None, str(error))
        return my_day(request, start_form=form, status=400)
    messages.success(request, "Session started. Your buddy can see where you are going.")
    return redirect("my_day")


@require_POST
def check_in(request, session_id):
    session = access_session(request.user, session_id, action=perms.CHANGE)
    try:
        actions.do_check_in(session, actor=request.user,
                            lat=read_coordinate(request.POST.get("lat")),
                            lon=read_coordinate(request.POST.get("lon")),
                            accuracy_m=read_coordinate(request.POST.get("accuracy")),
                            note=request.POST.get("note", "")[:300])
    except SessionError as error:
        messages.error(request, str(error))
        return redirect("my_day")
    messages.success(request, "Checked in. Thank you.")
    return redirect("my_day")


@require_POST
def extend(request, session_id):
    session = access_session(request.user, session_id, action=perms.CHANGE)
    form = ExtendForm(request.POST)
    if not form.is_valid():
        return my_day(request, extend_form=form, status=400)
    try:
        actions.do_extend(session, actor=request.user, seconds=form.cleaned_data["minutes"] * 60,
                          reason=form.cleaned_data["reason"])
    except SessionError as error:
        form.add_error(None, str(error))
        return my_day(request, extend_form=form, status=400)
    messages.success(request, "Your buddy has been told you are running late.")
    return redirect("my_day")


@require_POST
def end(request, session_id):
    session = access_session(request.user, session_id, action=perms.CHANGE)
    form = EndForm(request.POST)
    if not form.is_valid():
        return my_day(request, end_form=form, status=400)
    try:
        actions.do_end_session(session, actor=request.user, pin=form.cleaned_data["pin"])
    except SessionError as error:
        form.add_error("pin", str(error))
        return my_day(request, end_form=form, status=400)
    messages.success(request, "You have checked out. Stay safe.")
    return redirect("my_day")
