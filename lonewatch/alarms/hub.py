"""One listener per server process for new alarm events (ALM-02, Q-PERF).

Every open event stream (the console, ``/api/v1/alarms/events``) waits here instead
of asking the database for news on its own. The first stream in a process starts one
daemon thread that learns of new AlarmEvent rows — on PostgreSQL a trigger announces
every committed insert on the ``lonewatch_alarm_events`` channel (migration 0003) and
the thread listens on its own connection, looking at the table every second as well
in case a notification was lost; on SQLite it looks at the highest id every
ALARM_STREAM_POLL_SECONDS. It reads each new batch once, renders each event's
server-sent-event text once, keeps the latest in memory and wakes the waiting streams.
The rows stay the truth: a stream that falls behind the buffer reads them itself.

Ids are handed out before commit, so on PostgreSQL two transactions can commit out of
order (id 8 after id 9), and a transaction that rolls back leaves a hole. The hub
therefore passes a missing id only once it cannot appear any more: no transaction
that began before the hole was seen is still open (PostgreSQL), or at once on SQLite,
whose writers commit one at a time; GAP_SECONDS is the backstop. Everything up to
``floor`` is settled, and a stream that follows the floor neither skips an event that
commits late nor gets one twice.
"""

import json
import logging
import os
import threading
import time
from bisect import bisect_right
from dataclasses import dataclass, replace
from datetime import datetime

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.db.models import Q

from lonewatch.alarms.models import Alarm, AlarmEvent
from lonewatch.core import shutdown
from lonewatch.core.permissions import Reach, reach_of

log = logging.getLogger(__name__)

CHANNEL = "lonewatch_alarm_events"
BUFFER = 2000  # events kept in memory (about 40 s at 50 a second); older ones are read
BATCH = 500  # rows per read
GAP_SECONDS = 5.0  # the longest the hub waits for a missing id
# On start, the hub reads back this many ids: one still committing when it started
# is then not missed.
STARTUP_LOOKBACK = 100
CHECK_SECONDS = 1.0  # PostgreSQL: look at the table this often, notified or not
WAKE_SECONDS = 0.25  # PostgreSQL: the longest wait for a notification before looking round
RETRY_SECONDS = 2.0  # pause before reconnecting after the database went away


def alarm_json(alarm: Alarm) -> dict:
    worker = alarm.worker
    return {
        "id": alarm.pk, "kind": alarm.kind, "state": alarm.state, "source": alarm.source,
        "drill": alarm.drill, "raised_at": alarm.raised_at, "message": alarm.message,
        "worker": {"id": worker.pk, "name": worker.full_name, "mobile": worker.mobile,
                   "vehicle": worker.vehicle_description, "description": worker.description},
        "session_id": alarm.session_id,
        "location": None if alarm.lat is None else {
            "lat": alarm.lat, "lon": alarm.lon, "accuracy_m": alarm.accuracy_m,
            "at": alarm.location_at},
        "acknowledged_at": alarm.acknowledged_at, "category": alarm.category,
        "duress_suspected": alarm.duress_suspected, "realerts": alarm.realerts,
    }


def event_text(event: AlarmEvent) -> str:
    """The event as the stream sends it; ``event.alarm.worker.team`` should be loaded."""
    body = alarm_json(event.alarm) | {"event": {"kind": event.kind, "at": event.at,
                                                "summary": event.summary}}
    return (f"id: {event.pk}\nevent: alarm.{event.kind}\n"
            f"data: {json.dumps(body, cls=DjangoJSONEncoder)}\n\n")


def events_with_worker():
    return AlarmEvent.objects.select_related("alarm__worker__team").order_by("pk")


@dataclass(slots=True)
class _Gap:
    """Ids not read (yet): perhaps still committing, perhaps rolled back or deleted."""

    first: int
    last: int
    noticed: float  # time.monotonic()
    noticed_at: datetime | None = None  # the database's clock (PostgreSQL)
    final: bool = False  # nothing that could still commit them is running


@dataclass(frozen=True, slots=True)
class RenderedEvent:
    """An alarm event ready to send: its text, and where its worker sits (who may see it)."""

    pk: int
    alarm_id: int
    reach: Reach
    text: str


def latest_id() -> int:
    return AlarmEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


class AlarmEventHub:
    def __init__(self):
        self.pid = os.getpid()
        self._changed = threading.Condition()
        self._stopping = threading.Event()
        # Guarded by _changed; set by the listener thread only.
        self._events: list[RenderedEvent] = []  # settled events, by id
        self._base: int | None = None  # every settled event above this id is in _events
        self._floor: int | None = None  # every id up to this one is settled
        # The listener thread's own bookkeeping.
        self._read_upto = 0  # the highest id read
        self._held: dict[int, RenderedEvent] = {}  # read, waiting for a lower id to settle
        self._gaps: list[_Gap] = []  # ids above the floor not read, in order
        self._thread = threading.Thread(target=self._run, name="alarm-event-hub", daemon=True)

    # What streams use.

    def start(self) -> None:
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread.is_alive() and not self._stopping.is_set()

    @property
    def stopped(self) -> bool:
        return self._stopping.is_set()

    @property
    def base(self) -> int | None:
        with self._changed:
            return self._base

    @property
    def floor(self) -> int | None:
        with self._changed:
            return self._floor

    def since(self, after: int) -> list[RenderedEvent] | None:
        """The settled events after id ``after``, oldest first; None if some of them have
        already left the buffer (read those from the database, up to ``base``)."""
        with self._changed:
            if self._base is None:
                return []  # not started yet: nothing is known
            if after < self._base:
                return None
            return self._events[bisect_right(self._events, after, key=lambda e: e.pk):]

    def wait(self, after: int, timeout: float) -> bool:
        """Wait until an id above ``after`` is settled (True) or ``timeout`` runs out."""
        with self._changed:
            return self._changed.wait_for(
                lambda: self._stopping.is_set()
                or (self._floor is not None and self._floor > after),
                timeout=max(0.0, timeout))

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        with self._changed:
            self._changed.notify_all()  # waiting streams end; their browsers reconnect
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    # The listener thread.

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                if connection.vendor == "postgresql":
                    self._listen()
                else:
                    self._poll()
            except Exception:
                # A restarted database or a dropped connection: never give up, or every
                # console in this process would go quiet until the next deployment.
                log.warning("alarm event hub lost the database; trying again in %s s",
                            RETRY_SECONDS, exc_info=True)
                self._close_connection()
                self._stopping.wait(RETRY_SECONDS)
        self._close_connection()

    def _close_connection(self) -> None:
        try:
            connection.close()
        except Exception:
            log.debug("closing the hub's broken connection failed", exc_info=True)

    def _poll(self) -> None:
        """SQLite: one cheap look at the highest id per interval for the whole process."""
        self._start_floor()
        while not self._stopping.is_set():
            if self._gaps or latest_id() > self._read_upto:
                self._read_all()
            self._stopping.wait(settings.ALARM_STREAM_POLL_SECONDS)

    def _listen(self) -> None:
        import psycopg  # lazy: only a PostgreSQL database listens

        params = connection.get_connection_params() | {
            "autocommit": True, "application_name": "lonewatch alarm hub"}
        params.setdefault("connect_timeout", 10)
        # A dead peer (a pulled cable, a failed-over server) shows up within a minute.
        params.setdefault("keepalives_idle", 30)
        params.setdefault("keepalives_interval", 10)
        params.setdefault("keepalives_count", 3)
        with psycopg.connect(**params) as listener:
            listener.execute(f"LISTEN {CHANNEL}")
            # Listening before the first look: nothing committed after it goes unheard.
            self._start_floor()
            self._read_all()
            checked = time.monotonic()
            while not self._stopping.is_set():
                notified = bool(list(listener.notifies(timeout=WAKE_SECONDS, stop_after=1)))
                if notified:
                    for _ in listener.notifies(timeout=0):
                        pass  # one read covers every commit announced so far
                if notified or self._gaps:
                    self._read_all()
                    checked = time.monotonic()
                elif time.monotonic() - checked >= CHECK_SECONDS:
                    if latest_id() > self._read_upto:
                        self._read_all()
                    checked = time.monotonic()

    def _start_floor(self) -> None:
        if self._floor is not None:
            return  # reconnected: carry on from where the hub was
        start = max(0, latest_id() - STARTUP_LOOKBACK)
        self._read_upto = start
        with self._changed:
            self._base = self._floor = start
            self._changed.notify_all()

    def _read_all(self) -> None:
        while self._read() and not self._stopping.is_set():
            pass

    def _read(self) -> bool:
        """Read what is new (and any ids still missing) once; True if there may be more."""
        self._finalise_gaps()  # before reading: a row committed by then is read below
        wanted = Q(pk__gt=self._read_upto)
        for gap in self._gaps:
            wanted |= Q(pk__range=(gap.first, gap.last))
        rows = list(events_with_worker().filter(wanted)[:BATCH])
        now, new_gaps = time.monotonic(), []
        for row in rows:
            if row.pk > self._read_upto:
                if row.pk > self._read_upto + 1:
                    new_gaps.append(_Gap(self._read_upto + 1, row.pk - 1, now))
                    self._gaps.append(new_gaps[-1])
                self._read_upto = row.pk
            else:
                self._fill(row.pk)
            self._held[row.pk] = RenderedEvent(row.pk, row.alarm_id, reach_of(row.alarm),
                                               event_text(row))
        if new_gaps:
            # A transaction holding a missing id began before now (it took the id before
            # a committed, later one): once every transaction older than this has ended,
            # the id will never appear. SQLite commits one writer at a time, so a hole
            # below a committed id is already final there (a deleted row).
            noticed_at = self._database_clock() if connection.vendor == "postgresql" else None
            for gap in new_gaps:
                gap.noticed_at, gap.final = noticed_at, noticed_at is None
        self._settle()
        # A new hole on PostgreSQL: look again at once; a rolled-back id is given up then.
        return len(rows) == BATCH or any(not gap.final for gap in new_gaps)

    def _fill(self, pk: int) -> None:
        for i, gap in enumerate(self._gaps):
            if gap.first <= pk <= gap.last:
                self._gaps[i:i + 1] = [part for part in (replace(gap, last=pk - 1),
                                                         replace(gap, first=pk + 1))
                                       if part.first <= part.last]
                return

    def _finalise_gaps(self) -> None:
        waiting = [gap for gap in self._gaps if not gap.final]
        if not waiting:
            return
        now = time.monotonic()
        for gap in waiting:
            if now - gap.noticed >= GAP_SECONDS:
                gap.final = True
                log.warning("alarm events %s to %s did not appear within %s s; the event "
                            "stream moves past them", gap.first, gap.last, GAP_SECONDS)
        if connection.vendor != "postgresql":
            return
        oldest = self._oldest_open_transaction()
        for gap in waiting:
            if oldest is None or oldest > gap.noticed_at:
                gap.final = True  # rolled back (or deleted before it was read)

    @staticmethod
    def _database_clock() -> datetime:
        with connection.cursor() as cursor:
            cursor.execute("SELECT clock_timestamp()")
            return cursor.fetchone()[0]

    @staticmethod
    def _oldest_open_transaction() -> datetime | None:
        """When the oldest client transaction now open on this database (other than the
        hub's own) began. Only the database user's own sessions show their start, and
        those are the ones that write alarm events (autovacuum never does)."""
        with connection.cursor() as cursor:
            cursor.execute("SELECT min(xact_start) FROM pg_stat_activity "
                           "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                           "AND backend_type = 'client backend'")
            return cursor.fetchone()[0]

    def _settle(self) -> None:
        """Move the floor over every id read or given up, in order, and publish."""
        floor, settled = self._floor, []
        while floor < self._read_upto:
            if floor + 1 in self._held:
                floor += 1
                settled.append(self._held.pop(floor))
                continue
            gap = self._gaps[0]
            if not gap.final:
                break  # perhaps a transaction still committing: wait for it
            self._gaps.pop(0)
            floor = gap.last
        if floor == self._floor:
            return
        with self._changed:
            self._events.extend(settled)
            if len(self._events) > BUFFER + BUFFER // 4:
                dropped = len(self._events) - BUFFER
                self._base = self._events[dropped - 1].pk
                del self._events[:dropped]
            self._floor = floor
            self._changed.notify_all()


_hub: AlarmEventHub | None = None
_hub_lock = threading.Lock()


def current() -> AlarmEventHub:
    """This process's hub, started by the first stream that asks for it."""
    global _hub
    with _hub_lock:
        # A forked process (a new server worker) starts its own.
        if _hub is None or _hub.pid != os.getpid() or not _hub.running:
            _hub = AlarmEventHub()
            _hub.start()
        return _hub


def stop(timeout: float = 5.0) -> None:
    """Stop this process's hub, if it runs, waking every stream that waits on it (tests
    start each with a fresh one)."""
    global _hub
    with _hub_lock:
        hub, _hub = _hub, None
    if hub is not None:
        hub.stop(timeout)


def _stop_for_shutdown() -> None:
    # Q-REL: the process is being stopped; its streams end now, their consoles come
    # back to another process. The listener thread dies with the process: no waiting.
    stop(timeout=0)


shutdown.on_stop(_stop_for_shutdown)
