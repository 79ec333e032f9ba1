"""The alarm-centre console: loudest first, live over server-sent events (ALM-02..05)."""

from datetime import timedelta

from django.conf import settings
from django.db.models import Count, Prefetch
from django.shortcuts import render

from lonewatch import clock
from lonewatch.alarms import actions, stream
from lonewatch.alarms.access import access_alarm, access_console
from lonewatch.alarms.models import Alarm, OperatorDuty
from lonewatch.core import permissions as perms
from lonewatch.core.sse import event_stream
from lonewatch.escalation.models import Escalation
from lonewatch.markers import access as markers
from lonewatch.org.access import access_me
from lonewatch.recordings.models import Recording
from lonewatch.recordings.permissions import RECORDING
from lonewatch.visits.models import SessionEvent

A = Alarm.State
CHECK_INS_SHOWN = 3


def _console(request) -> dict:
    user = request.user
    visible = perms.filter_visible(user, Alarm.objects.select_related("worker", "session"))
    # How much audio each open alarm has, so the console's player knows there is some;
    # and the last check-ins of the session the worker is on (ALM-02).
    handled = visible.annotate(audio_parts=Count("audio_chunks", distinct=True)).prefetch_related(
        Prefetch("session__events", to_attr="recent_check_ins",
                 queryset=SessionEvent.objects.filter(kind=SessionEvent.Kind.CHECKED_IN)
                 .order_by("-at", "-id")[:CHECK_INS_SHOWN]))
    now = clock.now()
    ambers = list(handled.filter(kind=Alarm.Kind.AMBER, raised_at__gte=now - timedelta(hours=4))
                  .order_by("-raised_at")[:20])
    live = list(handled.filter(audio_parts__gt=0).exclude(state=A.CLOSED)
                .exclude(kind=Alarm.Kind.AMBER).order_by("raised_at"))
    # REC-03: what this operator may hear now (on duty, while the alarm is handled).
    for alarm in ambers + live:
        alarm.may_hear = alarm.audio_parts > 0 and perms.can(
            user, perms.VIEW, RECORDING, Recording(alarm=alarm,
                                                   organisation_id=alarm.organisation_id))
    return {
        "now": now,
        "unacknowledged": handled.filter(kind=Alarm.Kind.RED, state=A.RAISED)
        .order_by("raised_at"),
        "in_progress": handled.filter(state__in=[A.ACKNOWLEDGED, A.ASSESSING, A.ESCALATED])
        .order_by("raised_at"),
        # ALM-01: an amber's voice memo is kept as its recording.
        "ambers": ambers,
        "recordings": [a for a in live + ambers if a.may_hear],
        "overdue": perms.filter_visible(user, Escalation.objects.exclude(
            state=Escalation.State.RESOLVED).select_related("session__worker"))
        .order_by("missed_at")[:20],
        "on_duty": OperatorDuty.objects.filter(person=access_me(user), ended_at__isnull=True)
        .exists(),
        "categories": Alarm.Category.choices,
        "escalate_to": actions.ESCALATE_TO.items(),
    }


def console(request):
    access_console(request)
    return render(request, "alarms/console.html", _console(request) | {
        "map_tile_url": settings.MAP_TILE_URL, "map_attribution": settings.MAP_ATTRIBUTION})


def console_fragment(request):
    access_console(request)
    return render(request, "alarms/_console.html", _console(request))


def console_events(request):
    access_console(request)
    return event_stream(stream.events(request.user, request.headers.get("Last-Event-ID")))


def alarm_markers(request, alarm_id):
    """ALM-02, PRE-01: the risk markers at an open alarm's place, asked for by the
    operator; each is an audited read."""
    access_console(request)
    alarm = access_alarm(request.user, alarm_id)
    return render(request, "markers/_alarm_markers.html",
                  {"alarm": alarm, "markers": markers.for_alarm(request.user, alarm)})
