"""The alarm event stream (server-sent events) shared by the console and integrations.

Every change to an alarm is an AlarmEvent row; its id is the event id on the stream.
Streams wait on their process's hub (lonewatch/alarms/hub.py), which learns of new
rows from the database once for every stream in the process, so an alarm taken by one
server process reaches consoles connected to any other, and a waiting stream costs no
query. A console that reconnects with ``Last-Event-ID`` gets every event it missed:
from the hub's buffer, or from the database if it has been away longer than the
buffer reaches back.
"""

import time

from django.db import connection

from lonewatch.alarms import hub as hubs
from lonewatch.alarms.models import Alarm
from lonewatch.core import permissions as perms
from lonewatch.core import shutdown, sse

STREAM_SECONDS = 300
# An idle stream writes a comment this often, so a closed connection frees its thread.
HEARTBEAT_SECONDS = 5.0
BATCH = 200


def _me(user) -> int | None:
    person = getattr(user, "person", None)
    return person.pk if person is not None else None


def _from_database(user, after: int, upto: int) -> tuple[str, int]:
    """Events after ``after`` up to ``upto`` (settled ids the hub no longer holds) that
    ``user`` may see, one batch; and how far that batch reached."""
    alarms = perms.filter_visible(user, Alarm.objects.exclude(worker_id=_me(user))).values("pk")
    rows = list(hubs.events_with_worker().filter(pk__gt=after, pk__lte=upto,
                                                 alarm_id__in=alarms)[:BATCH])
    reached = rows[-1].pk if len(rows) == BATCH else upto
    return "".join(hubs.event_text(row) for row in rows), reached


def _release_connection() -> None:
    """A console waits minutes for events: it need not hold a database connection."""
    if not connection.in_atomic_block:
        connection.close()


def events(user, last_event_id: str | None, *, seconds: float = STREAM_SECONDS,
           heartbeat: float = HEARTBEAT_SECONDS):
    """Yield server-sent events for ``user`` from after ``last_event_id``.

    Q-REL: the stream ends at once when its server process is being stopped (the
    hub stops then, waking it), with a hint to reconnect soon, to another process; the
    console's next stream carries on after the last event this one sent."""
    if shutdown.stopping():
        yield sse.closing()
        return
    hub = hubs.current()
    try:
        after = int(last_event_id or 0)
    except ValueError:
        after = 0
    # The database's present: the first answer waits (briefly) until the hub has read
    # this far, so a reconnecting console is told at once of what it missed.
    present = hubs.latest_id()
    if not last_event_id:
        # A new console starts from now; the list it loaded shows the present state.
        after = present
    perms.memberships(user)  # loaded once, before the connection goes
    # MOV-04: a worker's own alarms never reach their stream. The stream is the alarm
    # centre's; what the worker's phone learns of their alarm comes from its own answers,
    # which are the same whichever PIN they used (alarms.worker_view).
    me = _me(user)
    started = time.monotonic()
    yield "retry: 1000\n\n"
    written = None  # when this stream last wrote
    released = False
    while (left := started + seconds - time.monotonic()) > 0 and not shutdown.stopping():
        fresh = hub.since(after)
        if fresh is None:  # away longer than the buffer reaches back
            text, after = _from_database(user, after, hub.base)
        elif fresh:
            after = fresh[-1].pk
            visible = perms.visible_ids(user, Alarm, {e.alarm_id: e.reach for e in fresh})
            text = "".join(e.text for e in fresh
                           if e.alarm_id in visible and e.reach.person_id != me)
        else:
            text = None
        if text:
            yield text
            written = time.monotonic()
        if text is not None:
            continue
        if hub.stopped:
            break
        syncing = started + heartbeat - time.monotonic()
        if syncing > 0 and (hub.floor or 0) < present:
            hub.wait(present - 1, timeout=min(left, syncing))
            continue
        if written is None or time.monotonic() - written >= heartbeat:
            yield ":\n\n"  # a closed connection shows up at once
            written = time.monotonic()
        if not released:
            _release_connection()
            released = True
        hub.wait(after, timeout=min(left, written + heartbeat - time.monotonic()))
    if shutdown.stopping():
        yield sse.closing()
