"""The background worker: one loop that beats a heartbeat and runs due-row scanners.

The worker knows no app's rules. Apps register scanners; each scanner finds
rows whose deadline has passed, claims them in the database, acts and commits,
and returns how many it handled. If the database goes away the loop waits and
reconnects; nothing it must do lives only in this process.

The heartbeat beats from a thread of its own while the process lives. Each pass
first takes back the rows that dead workers held past commit (see claim.py), so a
killed worker costs a few seconds at most, not a lease.
"""

import contextlib
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import DatabaseError, InterfaceError, close_old_connections, connection

from lonewatch import clock
from lonewatch.core import context
from lonewatch.worker import claim, liveness
from lonewatch.worker.models import Heartbeat

log = logging.getLogger("lonewatch.worker")


@dataclass
class Scanner:
    name: str
    run: Callable[[], int]
    urgent: bool = True


_scanners: list[Scanner] = []


def register(name: str, *, urgent: bool = True):
    """Decorator for a scanner: a function that handles due rows and returns a count.

    Scanners run in the order they are registered, except that one which is not
    ``urgent`` (nobody's safety waits on it) runs after every urgent one, so a slow mail
    server it waits on cannot hold up a missed check-in in the same pass."""

    def wrap(func):
        scanner = Scanner(name, func, urgent)
        later = next((i for i, s in enumerate(_scanners) if not s.urgent), len(_scanners))
        _scanners.insert(later if urgent else len(_scanners), scanner)
        return func

    return wrap


def scanners() -> list[Scanner]:
    return list(_scanners)


# A scanner that is not urgent and found nothing to do looks again after this long, not
# on every pass: the loop polls five times a second for missed check-ins and messages,
# and an idle trust need not pay that for its yearly review reminders. One that found
# work runs on the next pass, so a burst (100,000 recordings due at once) is not slowed.
IDLE_RECHECK_SECONDS = 15.0

# A pass that runs longer than this is stuck (the longest honest pass is a batch of sends,
# each waiting at most a few seconds for its provider): the heartbeat then stops, so
# /healthz shows it and other workers take back what this one holds.
STUCK_PASS_SECONDS = 120


class Worker:
    def __init__(self, *, poll_seconds: float = 0.2):
        self.name = claim.holder()
        self.poll_seconds = poll_seconds
        self.stopping = claim.stop_signal()
        self.started_at = clock.now()
        self.pass_started: float | None = None
        # When each idle scanner that is not urgent is next due to look (monotonic).
        self._idle_until: dict[str, float] = {}
        # A pass that failed half way may have left rows held by this process.
        self.orphans = False
        self._heart: threading.Thread | None = None
        self._heart_stop = threading.Event()

    def beat(self) -> None:
        Heartbeat.objects.update_or_create(
            name=self.name,
            defaults={"pid": os.getpid(), "host": socket.gethostname(),
                      "machine": liveness.machine(), "started_at": self.started_at,
                      "beat_at": clock.now()},
        )

    def start_heart(self) -> None:
        """Beat now, then keep beating from a thread of its own (with its own database
        connection), so that a pass waiting on a slow mail server does not look like a
        dead worker whose rows others should take back (ESC-03)."""
        self.beat()
        self._heart_stop.clear()
        self._heart = threading.Thread(target=self._keep_beating, name="heartbeat",
                                       daemon=True)
        self._heart.start()

    def stop_heart(self) -> None:
        if self._heart is not None:
            self._heart_stop.set()
            self._heart.join(timeout=30)
            self._heart = None

    def _keep_beating(self) -> None:
        stuck_reported = False
        while not self._heart_stop.wait(settings.WORKER_HEARTBEAT_SECONDS):
            started = self.pass_started
            if started is not None and time.monotonic() - started > STUCK_PASS_SECONDS:
                if not stuck_reported:
                    log.error("worker pass stuck: heartbeat withheld",
                              extra={"worker": self.name,
                                     "pass_seconds": round(time.monotonic() - started)})
                    stuck_reported = True
                continue
            stuck_reported = False
            try:
                close_old_connections()
                self.beat()
            except (DatabaseError, InterfaceError) as error:
                log.warning("heartbeat not written", extra={"error": str(error)})
                connection.close()
        connection.close()

    def tick(self) -> int:
        """One pass: take back what dead workers held, then every scanner once (one that
        is not urgent and found nothing only every ``IDLE_RECHECK_SECONDS``)."""
        handled = 0
        self.pass_started = time.monotonic()
        try:
            if self.orphans:
                # Nothing runs between passes, so anything still held is held by nobody.
                claim.hand_back()
                self.orphans = False
            handled += claim.rescue()
            for scanner in _scanners:
                now = time.monotonic()
                if not scanner.urgent and self._idle_until.get(scanner.name, 0.0) > now:
                    continue
                with context.job(f"worker-{scanner.name}"):
                    try:
                        found = scanner.run()
                        handled += found
                        if not scanner.urgent:
                            self._idle_until[scanner.name] = \
                                now + IDLE_RECHECK_SECONDS if not found else 0.0
                    except (DatabaseError, InterfaceError):
                        self.orphans = True
                        raise  # the loop waits and reconnects
                    except Exception:
                        # One scanner's bug must not stop the others: a broken reminder
                        # must not hold up escalations. /healthz shows what is left undone.
                        self.orphans = True
                        log.exception("scanner failed", extra={"scanner": scanner.name})
        finally:
            self.pass_started = None
        return handled

    def run_once(self) -> int:
        self.start_heart()
        try:
            return self.tick()
        finally:
            self.stop_heart()
            if self.orphans:
                with contextlib.suppress(DatabaseError, InterfaceError):
                    claim.hand_back()

    def stop(self, *_args) -> None:
        self.stopping.set()

    def run_forever(self) -> None:
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        log.info("worker started", extra={"worker": self.name,
                                          "scanners": [s.name for s in _scanners]})
        backoff = 0.5
        while not self.stopping.is_set():
            try:
                close_old_connections()
                if self._heart is None:
                    self.start_heart()
                handled = self.tick()
                backoff = 0.5
                if not handled:
                    self.stopping.wait(self.poll_seconds)
            except (DatabaseError, InterfaceError) as error:
                log.warning("database unavailable, retrying",
                            extra={"error": str(error), "retry_in_s": backoff})
                connection.close()
                self.stopping.wait(backoff)
                backoff = min(backoff * 2, 5.0)
        self.stop_heart()
        # A clean stop hands back at once what it still holds: another worker sends it
        # now, not when this one's heartbeat has gone silent.
        handed = None
        with contextlib.suppress(DatabaseError, InterfaceError):
            handed = claim.hand_back()
            Heartbeat.objects.filter(name=self.name).delete()
        log.info("worker stopped", extra={"worker": self.name, "handed_back": handed})
