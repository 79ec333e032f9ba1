"""Pages for the worker ("My day"), the buddy and the manager's live board."""

import time
from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, Max, Q
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from lonewatch import clock
from lonewatch.alarms import actions as alarm_actions
from lonewatch.alarms import audio
from lonewatch.alarms.models import Alarm
from lonewatch.core import permissions as perms
from lonewatch.core import shutdown, sse
from lonewatch.core.access import access_alarm, access_escalation, access_me, access_session
from lonewatch.core.permissions import Role
from lonewatch.core.sse import event_stream
from lonewatch.escalation import actions as escalations
from lonewatch.escalation.models import Escalation
from lonewatch.notify.models import Delivery
from lonewatch.notify.views import unproved
from lonewatch.org.models import Person
from lonewatch.visits import actions
from lonewatch.visits.actions import SessionError
from lonewatch.visits.forms import EndForm, ExtendForm, PinForm, ResolveForm, StartForm
from lonewatch.visits.models import Session

BOARD_STREAM_SECONDS = 300
# ALM-02: the phone records for this long after a red alert at most; the alarm centre
# has the worker's location, their phone number and 999 by then.
RECORD_SECONDS = 15 * 60
# ALM-01: an amber alert's voice memo is short: what an operator needs before going in.
MEMO_SECONDS = 60


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
    if session is None:
        context["form"] = start_form or StartForm(
            initial={"vehicle": me.vehicle_description}, covers=_covers(me))
        context["recent"] = Session.objects.filter(worker=me, state=Session.State.ENDED)[:5]
        context["can_start"] = bool(me.buddy_id and me.buddy_accepted_at and me.pin_hash)
    else:
        context["events"] = session.events.order_by("-at", "-id")[:30]
        context["extend_form"] = extend_form or ExtendForm()
        context["end_form"] = end_form or EndForm()
        context["escalation"] = session.escalations.exclude(
            state=Escalation.State.RESOLVED).first()
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


def _float(value):
    try:
        return float(value) if value not in (None, "") else None
    except ValueError:
        raise SessionError("The location from your phone could not be read.") from None


@require_POST
def check_in(request, session_id):
    session = access_session(request.user, session_id, action=perms.CHANGE)
    try:
        actions.do_check_in(session, actor=request.user, lat=_float(request.POST.get("lat")),
                            lon=_float(request.POST.get("lon")),
                            accuracy_m=_float(request.POST.get("accuracy")),
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


def session_detail(request, session_id):
    session = access_session(request.user, session_id)
    return render(request, "visits/session_detail.html", {
        "session": session, "events": session.events.order_by("-at", "-id"),
        "escalations": session.escalations.all(),
        "can_contact": perms.can(request.user, perms.VIEW, perms.CONTACT, session.worker),
        "can_next_of_kin": perms.can(request.user, perms.VIEW, perms.NEXT_OF_KIN,
                                     session.worker),
    })


def escalation_detail(request, escalation_id, form=None, status=200):
    escalation = access_escalation(request.user, escalation_id)
    session = escalation.session
    return render(request, "visits/escalation_detail.html", {
        "escalation": escalation, "session": session,
        "events": session.events.filter(at__gte=escalation.missed_at).order_by("-at", "-id"),
        "can_act": perms.can(request.user, perms.ACT, perms.ESCALATION, escalation),
        "can_contact": perms.can(request.user, perms.VIEW, perms.CONTACT, session.worker),
        "can_next_of_kin": perms.can(request.user, perms.VIEW, perms.NEXT_OF_KIN,
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


BUDDY_ALERT_HOURS = 12  # a shift: older alerts are on the session's page


def buddy(request):
    me = access_me(request.user)
    now = clock.now()
    watching = list(Session.objects.exclude(state=Session.State.ENDED)
                    .filter(Q(buddy=me) | Q(cover_buddy=me)).select_related("worker")
                    .order_by("due_at"))
    # ALM-01: an amber alert is the buddy's to see, with the red ones, while they watch.
    alerts: dict[int, list] = {}
    for alarm in perms.filter_visible(request.user, Alarm.objects.filter(
            worker__in=[s.worker_id for s in watching],
            raised_at__gte=now - timedelta(hours=BUDDY_ALERT_HOURS))).order_by("-raised_at"):
        alerts.setdefault(alarm.worker_id, []).append(alarm)
    for session in watching:
        session.alerts = alerts.get(session.worker_id, [])
    return render(request, "visits/buddy.html", {"sessions": watching, "now": now})


def _board(request) -> dict:
    user = request.user
    now = clock.now()
    sessions = list(
        perms.filter_visible(user, Session.objects.exclude(state=Session.State.ENDED))
        .select_related("worker__team", "buddy", "cover_buddy").order_by("due_at")
    )
    soon = now + timedelta(minutes=5)
    open_escalations = list(
        perms.filter_visible(user, Escalation.objects.exclude(state=Escalation.State.RESOLVED))
        .select_related("session__worker", "acknowledged_by__person").order_by("missed_at")
    )
    people = perms.filter_visible(user, Person.objects.filter(user__is_active=True))
    since = now - timedelta(days=90)
    return {
        "now": now,
        "escalating": [s for s in sessions if s.state == Session.State.OVERDUE],
        "due_soon": [s for s in sessions if s.state == Session.State.ACTIVE and s.due_at <= soon],
        "active": [s for s in sessions if s.state == Session.State.ACTIVE and s.due_at > soon],
        "escalations": open_escalations,
        # ESC-05: unnecessary escalations show how well the procedure is followed.
        "forgotten": (
            perms.filter_visible(user, Escalation.objects.filter(
                outcome=Escalation.Outcome.FORGOT, resolved_at__gte=since))
            .values("session__worker__team__name").annotate(count=Count("id"))
            .order_by("-count")
        ),
        # Buddies and escalation points whose alerts may not reach them.
        "unproved": [
            (p, gaps) for p in people.filter(roles__role__in=[
                Role.BUDDY, Role.LINE_MANAGER, Role.SENIOR_MANAGER]).distinct()
            .prefetch_related("channel_proofs", "push_subscriptions").order_by("full_name")
            if (gaps := unproved(p))
        ],
        "failing": (
            Delivery.objects.filter(recipient__in=people, status=Delivery.Status.FAILED,
                                    created_at__gte=now - timedelta(days=7))
            .values("recipient__full_name", "channel").annotate(count=Count("id"),
                                                                last=Max("created_at"))
            .order_by("recipient__full_name")
        ),
    }


def _check_board(request):
    if not perms.can_anywhere(request.user, perms.VIEW, perms.SESSION):
        raise PermissionDenied("The board is for managers, the security manager and the "
                               "alarm centre.")


def board(request):
    _check_board(request)
    return render(request, "visits/board.html", _board(request))


def board_fragment(request):
    _check_board(request)
    return render(request, "visits/_board.html", _board(request))


def _board_version(user) -> tuple:
    visible = perms.filter_visible(user, Session.objects.all())
    return (
        visible.exclude(state=Session.State.ENDED).aggregate(
            n=Count("id"), due=Max("due_at"), contact=Max("last_contact_at"))["n"],
        visible.aggregate(latest=Max("events__id"))["latest"],
    )


def board_events(request):
    """Server-sent events: "changed" whenever the board would show something new."""
    _check_board(request)
    user = request.user  # resolved now: the stream outlives the request's middleware

    def stream():
        yield "retry: 3000\n\n"
        last, started = None, time.monotonic()
        while time.monotonic() - started < BOARD_STREAM_SECONDS and not shutdown.stopping():
            version = _board_version(user)
            if version != last and last is not None:
                yield f"event: changed\ndata: {reverse('board_fragment')}\n\n"
            else:
                # A comment each round: a closed connection shows up at once, so a
                # console that went away stops costing a thread and a query.
                yield ":\n\n"
            last = version
            shutdown.wait(settings.BOARD_POLL_SECONDS)
        if shutdown.stopping():
            # Q-REL: the server process is being stopped; the board reconnects to
            # another one at once and fetches itself again.
            yield sse.closing()

    return event_stream(stream())


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


def _float_or_none(value):
    try:
        return float(value) if value not in (None, "") else None
    except ValueError:
        return None


@require_POST
def raise_alert(request, kind):
    """ALM-01 / ALM-02 from the worker's page: amber (a note, location and an optional
    voice memo) or red."""
    me = access_me(request.user)
    if kind not in Alarm.Kind.values:
        raise PermissionDenied("No such alert.")
    memo = request.FILES.get("memo") if kind == Alarm.Kind.AMBER else None
    try:
        # The amber and its memo together or not at all: a memo refused leaves no amber
        # that the worker believes has their words.
        with transaction.atomic():
            alarm = alarm_actions.do_raise(
                me, actor=request.user, kind=kind,
                message=request.POST.get("message", "")[:500],
                source=Alarm.Source.DISCREET if request.POST.get("discreet")
                else Alarm.Source.APP,
                lat=_float_or_none(request.POST.get("lat")),
                lon=_float_or_none(request.POST.get("lon")),
                accuracy_m=_float_or_none(request.POST.get("accuracy")))
            if memo is not None:
                _attach_memo(alarm, memo, actor=request.user)
    except (SessionError, alarm_actions.AlarmError) as error:
        messages.error(request, str(error))
        return redirect("my_day")
    except audio.AudioError as error:
        messages.error(request, f"Your amber alert was not logged: the voice memo could not "
                                f"be kept. {error} Try again, or discard the voice memo.")
        return redirect("my_day")
    if alarm.source == Alarm.Source.DISCREET:
        messages.success(request, "Sent to the office.")  # ALM-02: nothing to give it away
    elif kind == Alarm.Kind.RED:
        messages.success(request, "Red alert sent. The alarm centre is coming to you.")
    else:
        messages.success(request, "Amber alert logged with your location"
                         + (" and your voice memo." if memo is not None else "."))
    return redirect("my_day")


def _attach_memo(alarm, memo, *, actor) -> None:
    # Refused by its size before it is read.
    if memo.size > settings.ALARM_AUDIO_CHUNK_BYTES:
        raise audio.AudioError("The voice memo is too long.", 413)
    audio.add_chunk(alarm, actor=actor, seq=0, content_type=memo.content_type,
                    data=memo.read())


def _refused(message: str, status: int, alarm: Alarm | None = None, **extra) -> JsonResponse:
    body = {"detail": message} | extra
    if alarm is not None:
        alarm.refresh_from_db(fields=["state"])
        # The page stops recording and sending once the alarm is over.
        body["alarm_open"] = alarm.is_open
    return JsonResponse(body, status=status)


@require_POST
def alarm_audio(request, alarm_id):
    """ALM-02: a slice of what the worker's phone records during their red alert, at
    position ``seq`` (the body, with its Content-Type). The rules are ``audio.add_chunk``'s,
    as for the API."""
    alarm = access_alarm(request.user, alarm_id, action=perms.CHANGE)
    try:
        seq = int(request.GET.get("seq", ""))
    except ValueError:
        return _refused("seq must be a whole number from 0.", 400)
    length = request.headers.get("Content-Length") or "0"
    if not length.isdigit() or int(length) > settings.ALARM_AUDIO_CHUNK_BYTES:
        # Refused before the body is read.
        return _refused(f"A chunk can be at most {settings.ALARM_AUDIO_CHUNK_BYTES} bytes.",
                        413)
    try:
        chunk = audio.add_chunk(alarm, actor=request.user, seq=seq,
                                content_type=request.content_type, data=request.body)
    except audio.AudioError as error:
        # A place already taken (by a slice an earlier load of the page sent as it
        # closed) says where the next free one is: the page numbers what it still has
        # from there, so the header of its fresh recording is not lost.
        extra = {} if error.next_seq is None else {"next_seq": error.next_seq}
        return _refused(str(error), error.status, alarm, **extra)
    return JsonResponse({"seq": chunk.seq, "size": chunk.size,
                         "received": alarm.audio_chunks.count(),
                         "starts_take": chunk.starts_take}, status=201)


@require_POST
def alarm_location(request, alarm_id):
    """ALM-02: where the worker's phone is now, while their red alert is open."""
    alarm = access_alarm(request.user, alarm_id, action=perms.CHANGE)
    try:
        alarm = alarm_actions.do_add_location(
            alarm, actor=request.user, lat=_float(request.POST.get("lat")),
            lon=_float(request.POST.get("lon")),
            accuracy_m=_float(request.POST.get("accuracy")))
    except alarm_actions.AlarmConflict as error:
        return _refused(str(error), 409, alarm)
    except (SessionError, alarm_actions.AlarmError) as error:
        return _refused(str(error), 400)
    return JsonResponse({"lat": alarm.lat, "lon": alarm.lon, "accuracy_m": alarm.accuracy_m,
                         "at": alarm.location_at.isoformat()})


@require_POST
def cancel_alert(request, alarm_id):
    me = access_me(request.user)
    alarm = Alarm.objects.filter(pk=alarm_id, worker=me).first()
    if alarm is None:
        raise PermissionDenied("That is not your alarm.")
    try:
        alarm_actions.do_cancel(alarm, actor=request.user, pin=request.POST.get("pin", ""))
    except (alarm_actions.AlarmConflict, alarm_actions.AlarmError) as error:
        messages.error(request, str(error))
    else:
        # The same words for the PIN and the duress PIN.
        messages.success(request, "Alarm cancelled.")
    return redirect("my_day")
