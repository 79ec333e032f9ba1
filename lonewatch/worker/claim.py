"""Claim due rows so that each is handled by exactly one worker process.

Most scanners claim, act and commit in one transaction: a worker killed half way
rolls back, and its rows are simply due again. Some work cannot sit in a transaction
(sending a message waits on a mail server or GOV.UK Notify), so its rows are *held*
past commit: the row records which worker holds it and since when. A worker that
dies holding rows leaves them to the others, which take them back as soon as its
heartbeat has been silent for ``WORKER_DEAD_AFTER_SECONDS`` or, when it ran on the
same machine, at once when its process is gone. A worker that stops cleanly hands its
rows back at once. A lease on the row's due column stays as the last resort, for a
holder that is alive but stuck, or that never beat a heartbeat.
"""

import logging
import os
import secrets
import socket
import threading
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Model, Q

from lonewatch import clock
from lonewatch.worker import liveness
from lonewatch.worker.models import Heartbeat

log = logging.getLogger("lonewatch.worker")


def claim(queryset, *, limit: int, update: dict | None = None) -> list[int]:
    """Lock up to ``limit`` rows of ``queryset`` for this transaction and return their ids.

    Must run inside ``transaction.atomic()``. On PostgreSQL the rows are taken with
    ``SELECT … FOR UPDATE SKIP LOCKED``, so another worker skips them and takes the
    next ones. On SQLite every write transaction starts IMMEDIATE and so holds the
    database's only write lock; no other writer can run between the select and our
    update. ``update``, if given, is applied to the claimed rows at once.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("claim() must run inside a transaction")
    if connection.vendor == "postgresql":
        queryset = queryset.select_for_update(skip_locked=True, of=("self",))
    ids = list(queryset.values_list("pk", flat=True)[:limit])
    if ids and update:
        queryset.model.objects.filter(pk__in=ids).update(**update)
    return ids


# --- rows held past commit ------------------------------------------------------------


@dataclass(frozen=True)
class Held:
    """A model whose rows can be held past commit. It has ``claimed_by`` (the holder's
    heartbeat name, null while nobody holds the row) and ``claimed_at``; ``due`` names
    its deadline column, and ``waiting`` says which rows are still to be done."""

    model: type[Model]
    due: str
    waiting: Q


_held: dict[type[Model], Held] = {}
_holder: tuple[int, str] | None = None
_stopping = threading.Event()


def holds(model: type[Model], *, due: str, waiting: Q) -> None:
    """Register a model whose rows are held past commit (an app does this when it
    registers its scanners), so that the worker can take them back from a dead holder
    and hand back its own when it stops."""
    _held[model] = Held(model, due, waiting)


def holder() -> str:
    """This process's name as a holder of rows, and as its heartbeat's name.

    The host and pid tell an operator where it runs; the random part makes a restarted
    worker that gets the same pid (a container's first process does) a new holder, so
    the rows of the one that died are not mistaken for its own.
    """
    global _holder
    pid = os.getpid()
    if _holder is None or _holder[0] != pid:  # a forked child is a holder of its own
        _holder = (pid, f"{socket.gethostname()}:{pid}:{secrets.token_hex(3)}")
    return _holder[1]


def hold(queryset, *, limit: int, lease: timedelta, update: dict | None = None) -> list[int]:
    """Claim up to ``limit`` rows of a registered model and hold them past commit.

    Must run inside ``transaction.atomic()``. Each row records this process as its
    holder; its due column moves on by ``lease``, so that if every rescue fails (the
    holder is alive but stuck, or has no heartbeat at all) the row is due again then.
    """
    held = _held[queryset.model]
    now = clock.now()
    return claim(queryset, limit=limit, update={
        held.due: now + lease, "claimed_by": holder(), "claimed_at": now, **(update or {})})


def release_fields() -> dict:
    """The column values that end a hold, for an action's own UPDATE of a row it is done
    with (sent, failed, put off)."""
    return {"claimed_by": None, "claimed_at": None}


def hand_back(name: str | None = None) -> int:
    """Give back every row held by ``name`` (this process by default), due again from
    when it was claimed, so that it goes ahead of work queued since."""
    name = name or holder()
    count = 0
    for held in _held.values():
        count += held.model.objects.filter(held.waiting, claimed_by=name).update(
            **{held.due: F("claimed_at")}, **release_fields())
    return count


def dead_after() -> timedelta:
    return timedelta(seconds=settings.WORKER_DEAD_AFTER_SECONDS)


def rescue() -> int:
    """Take back the rows held by workers that have died, and forget those workers.
    Returns how many rows were taken back.

    A worker on this machine is dead when its process is gone (see liveness.py); one
    elsewhere, when its heartbeat has been silent for ``WORKER_DEAD_AFTER_SECONDS``. A
    cheap read finds them first, so a pass with nothing to take back takes no write
    lock. The heartbeat rows are then locked (on PostgreSQL, SKIP LOCKED: two rescuers
    never work on the same dead worker) and a silent one is checked again inside the
    transaction; each row is taken back only while it still names the dead holder, so
    a row another worker has claimed since is left alone.
    """
    cutoff = clock.now() - dead_after()
    here = liveness.machine()
    suspects = Q(beat_at__lt=cutoff) | Q(machine=here) if here else Q(beat_at__lt=cutoff)
    silent, gone = [], []
    for name, pid, where, beat_at in (Heartbeat.objects.filter(suspects).exclude(name=holder())
                                      .values_list("name", "pid", "machine", "beat_at")):
        if here and where == here:
            # On this machine the kernel decides: a running process is alive however late
            # its heartbeat (say, behind a long write lock); a stuck one has the lease.
            if not liveness.is_running(pid):
                gone.append(name)
        elif beat_at < cutoff:
            silent.append(name)
    if not silent and not gone:
        return 0
    count = 0
    with transaction.atomic():
        dead = Heartbeat.objects.filter(Q(name__in=silent, beat_at__lt=cutoff)
                                        | Q(name__in=gone))
        if connection.vendor == "postgresql":
            dead = dead.select_for_update(skip_locked=True)
        names = list(dead.values_list("name", flat=True))
        for name in names:
            taken = hand_back(name)
            if taken:
                log.warning("took back rows of a dead worker", extra={
                    "dead_worker": name, "rows": taken,
                    "known_by": "process gone" if name in gone else "heartbeat silent"})
            count += taken
        Heartbeat.objects.filter(name__in=names).delete()
    return count


def stop_signal() -> threading.Event:
    """A fresh stop signal for this process's worker, the one ``stopping()`` reads."""
    global _stopping
    _stopping = threading.Event()
    return _stopping


def stopping() -> bool:
    """True once this process's worker has been asked to stop: a scanner starts no new
    slow work and hands back the rest of what it holds."""
    return _stopping.is_set()
