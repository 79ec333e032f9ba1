"""The alarm event stream (server-sent events) shared by the console and integrations.

Every change to an alarm is an AlarmEvent row; its id is the event id on the
stream. A stream reads new rows from the database, so an alarm taken by one server
process reaches consoles connected to any other, and a console that reconnects with
``Last-Event-ID`` gets every event it missed.
"""

import json
import time

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder

from lonewatch.alarms.models import Alarm, AlarmEvent
from lonewatch.core import permissions as perms

STREAM_SECONDS = 300
BATCH = 200


def alarm_json(alarm: Alarm) -> dict:
    worker = alarm.worker
    return {
        "id": alarm.pk, "kind": alarm.kind, "state": alarm.state, "source": alarm.source,
        "drill": alarm.drill, "raised_at": alarm.raised_at, "message": alarm.message,
        "worker": {"id": worker.pk, "name": worker.full_name, "mobile": worker.mobile,
                   "vehicle": worker.vehicle_description},
        "session_id": alarm.session_id,
        "location": None if alarm.lat is None else {
            "lat": alarm.lat, "lon": alarm.lon, "accuracy_m": alarm.accuracy_m,
            "at": alarm.location_at},
        "acknowledged_at": alarm.acknowledged_at, "category": alarm.category,
        "duress_suspected": alarm.duress_suspected, "realerts": alarm.realerts,
    }


def _visible_events(user, after: int):
    alarms = perms.filter_visible(user, Alarm.objects.all()).values("pk")
    return (AlarmEvent.objects.filter(pk__gt=after, alarm_id__in=alarms)
            .select_related("alarm__worker").order_by("pk")[:BATCH])


def events(user, last_event_id: str | None, *, seconds: float = STREAM_SECONDS,
           poll: float | None = None):
    """Yield server-sent events for ``user`` from after ``last_event_id``."""
    poll = poll if poll is not None else settings.ALARM_STREAM_POLL_SECONDS
    try:
        after = int(last_event_id or 0)
    except ValueError:
        after = 0
    if not last_event_id:
        # A new console starts from now; the list it loaded shows the present state.
        latest = AlarmEvent.objects.order_by("-pk").values_list("pk", flat=True).first()
        after = latest or 0
    yield "retry: 1000\n\n"
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        batch = list(_visible_events(user, after))
        for event in batch:
            after = event.pk
            body = alarm_json(event.alarm) | {"event": {"kind": event.kind, "at": event.at,
                                                        "summary": event.summary}}
            yield (f"id: {event.pk}\nevent: alarm.{event.kind}\n"
                   f"data: {json.dumps(body, cls=DjangoJSONEncoder)}\n\n")
        if not batch:
            yield ":\n\n"  # a closed connection shows up at once
            time.sleep(poll)
