"""The alarm-centre console: loudest first, live over server-sent events (ALM-02..05)."""


from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, JsonResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from lonewatch.alarms import actions, audio
from lonewatch.alarms import actions as alarm_actions
from lonewatch.alarms.access import access_alarm, access_console
from lonewatch.alarms.models import Alarm
from lonewatch.alarms.permissions import ALARM
from lonewatch.core import permissions as perms
from lonewatch.org.access import access_me
from lonewatch.visits.actions import SessionError
from lonewatch.visits.forms import read_coordinate

A = Alarm.State












@require_POST
def duty(request):
    me = access_console(request)
    actions.do_duty(me, on=request.POST.get("on") == "yes", actor=request.user)
    return redirect("console")


ACTIONS = {
    "acknowledge": lambda alarm, request: actions.do_acknowledge(
        alarm, actor=request.user, note=request.POST.get("note", "")),
    "assess": lambda alarm, request: actions.do_assess(
        alarm, actor=request.user, note=request.POST.get("note", "")),
    "escalate": lambda alarm, request: actions.do_escalate(
        alarm, actor=request.user, to=request.POST.get("to", ""),
        reference=request.POST.get("reference", ""), note=request.POST.get("note", "")),
    "close": lambda alarm, request: actions.do_close(
        alarm, actor=request.user, category=request.POST.get("category", ""),
        worker_agreed=request.POST.get("worker_agreed") == "yes" or None,
        note=request.POST.get("note", "")),
    "flag-duress": lambda alarm, request: actions.do_flag_duress(
        alarm, actor=request.user, note=request.POST.get("note", "")),
}


@require_POST
def act(request, alarm_id, action):
    access_console(request)
    if action not in ACTIONS:
        raise Http404("No such action.")
    alarm = Alarm.objects.select_related("worker__team").filter(pk=alarm_id).first()
    if alarm is None or not perms.can(request.user, perms.VIEW, ALARM, alarm):
        raise Http404("No such alarm, or not one you can see.")
    if not perms.can(request.user, perms.ACT, ALARM, alarm):
        raise PermissionDenied("You cannot handle this alarm.")
    try:
        ACTIONS[action](alarm, request)
    except (actions.AlarmConflict, actions.AlarmError) as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"Done: {action.replace('-', ' ')} ({alarm.worker}).")
    return redirect("console")






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
        # ALM-01: say what was kept, and only that.
        kept = [what for what, there in (("your location", alarm.lat is not None),
                                          ("your voice memo", memo is not None)) if there]
        messages.success(request, "Amber alert logged" + (f" with {' and '.join(kept)}."
                                                          if kept else "."))
    return redirect("my_day")


def _attach_memo(alarm, memo, *, actor) -> None:
    try:
        audio.check_size(memo.size)  # refused by its size before it is read
    except audio.AudioError:
        raise audio.AudioError("The voice memo is too long.", 413) from None
    audio.add_chunk(alarm, actor=actor, seq=0, content_type=memo.content_type,
                    data=memo.read())


def _refused(message: str, status: int, alarm: Alarm | None = None, **extra) -> JsonResponse:
    body = {"detail": message} | extra
    if alarm is not None:
        alarm.refresh_from_db(fields=["state"])
        # The page stops recording and sending once the alarm is over.
        body["alarm_open"] = alarm.open_for_worker
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
    try:
        audio.check_size(request.headers.get("Content-Length"))  # before the body is read
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
            alarm, actor=request.user, lat=read_coordinate(request.POST.get("lat")),
            lon=read_coordinate(request.POST.get("lon")),
            accuracy_m=read_coordinate(request.POST.get("accuracy")))
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
