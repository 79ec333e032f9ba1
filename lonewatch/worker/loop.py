"""The background worker: one loop that beats a heartbeat and runs due-row scanners.

The worker knows no app's rules. Apps register scanners; each scanner finds
rows whose deadline has passed, claims them in the database, acts and commits,
and returns how many it handled. If the database goes away the loop waits and
reconnects; nothing it must do lives only in this process.
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
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, InterfaceError, close_old_connections, connection

from lonewatch import clock
from lonewatch.core import context
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


class Worker:
    def __init__(self, *, poll_seconds: float = 0.2):
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        self.poll_seconds = poll_seconds
        self.stopping = threading.Event()
        self.started_at = clock.now()
        self.last_beat = 0.0

    def beat(self) -> None:
        now = clock.now()
        Heartbeat.objects.update_or_create(
            name=self.name,
            defaults={"pid": os.getpid(), "host": socket.gethostname(),
                      "started_at": self.started_at, "beat_at": now},
        )
        # Rows of workers long gone only confuse an operator reading the table.
        Heartbeat.objects.filter(beat_at__lt=now - timedelta(days=1)).delete()
        self.last_beat = time.monotonic()

    def tick(self) -> int:
        """One pass: heartbeat when due, then every scanner once."""
        handled = 0
        if time.monotonic() - self.last_beat >= settings.WORKER_HEARTBEAT_SECONDS:
            self.beat()
        for scanner in _scanners:
            with context.job(f"worker-{scanner.name}"):
                try:
                    handled += scanner.run()
                except (DatabaseError, InterfaceError):
                    raise  # the loop waits and reconnects
                except Exception:
                    # One scanner's bug must not stop the others: a broken reminder must
                    # not hold up escalations. /healthz shows whatever is left undone.
                    log.exception("scanner failed", extra={"scanner": scanner.name})
        return handled

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
        log.info("worker stopped", extra={"worker": self.name})
        with contextlib.suppress(DatabaseError):
            Heartbeat.objects.filter(name=self.name).delete()
