"""ESC-03 / Q-REL: a message is held by the worker sending it, and a crash costs seconds.

A worker claims a message, commits, and sends it outside any transaction. If it is
killed there, the others take the message back as soon as its heartbeat has been
silent for LONEWATCH_WORKER_DEAD_AFTER_SECONDS (or at once, if it ran on the same
machine and its process is gone), not when the lease runs out. The "killed" worker
here is an in-process one whose send raises an exception nothing catches, as
``kill -9`` would leave it; it ran on "another machine", so only the silence of its
heartbeat can tell. Time is moved with time-machine between passes.
"""

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from django.db import transaction

from lonewatch import clock
from lonewatch.notify import actions, transports
from lonewatch.notify.actions import queue, send_due
from lonewatch.notify.models import Delivery
from lonewatch.worker import claim, liveness, loop
from lonewatch.worker.loop import Worker
from lonewatch.worker.models import Heartbeat

T0 = "2026-11-23 09:00:00+00:00"
DEAD = "ward-laptop:4242:dead01"


class Killed(BaseException):
    """kill -9 in the middle of a send: nothing after it runs in that worker."""


@pytest.fixture(autouse=True)
def _fresh_stop_signal():
    """A test that stops a worker leaves this process's stop signal set: clear it after."""
    yield
    claim.stop_signal()


@pytest.fixture
def timing(settings):
    settings.WORKER_HEARTBEAT_SECONDS = 2
    settings.WORKER_DEAD_AFTER_SECONDS = 6
    settings.DELIVERY_LEASE_SECONDS = 60


def _emails(trust, count=1) -> list[Delivery]:
    maria = trust.people["maria"]
    maria.email = "maria@example.nhs.uk"
    maria.save()
    return [row for i in range(count)
            for row in queue([maria], ["email"], subject=f"Nina missed a check-in ({i})",
                             body="Please call Nina now.", link="", purpose="test",
                             organisation_id=trust.org.pk)]


def _killed_while_sending(monkeypatch) -> None:
    """A worker called DEAD, on another machine, beats, claims the due messages and dies
    during the first send."""

    def killed(delivery):
        raise Killed

    with monkeypatch.context() as patch:
        patch.setattr(claim, "holder", lambda: DEAD)
        patch.setattr(transports, "send", killed)
        dead = Worker()
        dead.beat()
        with pytest.raises(Killed):
            dead.tick()
    Heartbeat.objects.filter(name=DEAD).update(machine="another machine")


def test_esc_03_message_held_by_a_killed_worker_goes_out_seconds_later_not_after_the_lease(
        trust, timing, time_machine, mailoutbox, monkeypatch):
    time_machine.move_to(T0, tick=False)
    [message] = _emails(trust)
    _killed_while_sending(monkeypatch)
    message.refresh_from_db()
    assert message.claimed_by == DEAD and message.status == Delivery.Status.PENDING
    assert message.next_attempt_at == clock.now() + timedelta(seconds=60)  # the lease

    rescuer = Worker()
    time_machine.move_to(clock.now() + timedelta(seconds=5), tick=False)
    rescuer.tick()  # 5 s of silence: it may only be slow, so its message is left alone
    assert mailoutbox == []

    time_machine.move_to(clock.now() + timedelta(seconds=2), tick=False)
    rescuer.tick()  # 7 s: taken for dead; its message is taken back and sent in this pass
    assert len(mailoutbox) == 1
    # The same Message-ID as the dead worker's attempt, so an inbox drops a second copy.
    assert mailoutbox[0].extra_headers["Message-ID"] == f"<{message.idempotency_key}@lonewatch>"
    message.refresh_from_db()
    assert message.status == Delivery.Status.SENT and message.attempts == 2
    assert message.claimed_by is None and message.claimed_at is None
    assert not Heartbeat.objects.filter(name=DEAD).exists()


def test_esc_03_a_worker_gone_from_this_machine_is_taken_for_dead_at_once(
        trust, timing, time_machine, mailoutbox, monkeypatch, settings):
    time_machine.move_to(T0, tick=False)
    [message] = _emails(trust)
    _killed_while_sending(monkeypatch)
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)
    # DEAD ran on this machine, and its process has ended; its heartbeat is a second old.
    Heartbeat.objects.filter(name=DEAD).update(pid=int(ended.stdout), machine=liveness.machine(),
                                               beat_at=clock.now() - timedelta(seconds=1))
    rescuer = Worker()
    settings.WORKER_PID_CHECK = False
    rescuer.tick()  # only the heartbeat tells, and it has not been silent long enough
    assert mailoutbox == []
    settings.WORKER_PID_CHECK = True
    rescuer.tick()  # the kernel tells: no need to wait for the heartbeat's silence
    assert len(mailoutbox) == 1
    message.refresh_from_db()
    assert message.status == Delivery.Status.SENT
    assert not Heartbeat.objects.filter(name=DEAD).exists()


def test_esc_03_a_running_worker_on_this_machine_keeps_its_message_however_late_its_heartbeat(
        trust, timing, time_machine, mailoutbox, monkeypatch):
    time_machine.move_to(T0, tick=False)
    [message] = _emails(trust)
    _killed_while_sending(monkeypatch)
    # DEAD is in fact this test's own process, running on this machine: the kernel says it
    # is alive, so a heartbeat held up (say, behind a long write lock) robs it of nothing.
    Heartbeat.objects.filter(name=DEAD).update(machine=liveness.machine())
    time_machine.move_to(clock.now() + timedelta(seconds=30), tick=False)
    Worker().tick()
    assert mailoutbox == []
    message.refresh_from_db()
    assert message.claimed_by == DEAD


def test_esc_03_a_worker_whose_heartbeat_beats_keeps_its_message_until_the_lease_runs_out(
        trust, timing, time_machine, mailoutbox, monkeypatch):
    time_machine.move_to(T0, tick=False)
    [message] = _emails(trust)
    _killed_while_sending(monkeypatch)  # here: stuck in the send, its heartbeat still beating
    rescuer = Worker()
    for seconds in (10, 30, 59):
        time_machine.move_to(clock.now().replace(second=seconds), tick=False)
        Heartbeat.objects.filter(name=DEAD).update(beat_at=clock.now() - timedelta(seconds=1))
        rescuer.tick()
        assert mailoutbox == []
    time_machine.move_to(clock.now().replace(second=1, minute=1), tick=False)
    Heartbeat.objects.filter(name=DEAD).update(beat_at=clock.now() - timedelta(seconds=1))
    rescuer.tick()  # the lease is the last resort for a worker alive but stuck
    assert len(mailoutbox) == 1
    message.refresh_from_db()
    assert message.status == Delivery.Status.SENT


def test_esc_03_a_late_rescuer_takes_nothing_that_another_worker_holds_now(
        trust, timing, time_machine, monkeypatch):
    time_machine.move_to(T0, tick=False)
    messages = _emails(trust, count=3)
    _killed_while_sending(monkeypatch)
    time_machine.move_to(clock.now() + timedelta(seconds=7), tick=False)
    assert claim.rescue() == 3
    with monkeypatch.context() as patch:  # a second live worker claims them again at once
        patch.setattr(claim, "holder", lambda: "ward-desktop:99:alive1")
        with transaction.atomic():
            claim.hold(Delivery.objects.filter(status=Delivery.Status.PENDING), limit=10,
                       lease=timedelta(seconds=60))
    # A rescuer that saw the dead worker a moment ago and only now gets to it: the
    # compare-and-set finds the rows no longer held by the dead worker and leaves them.
    assert claim.hand_back(DEAD) == 0
    assert claim.rescue() == 0
    held = set(Delivery.objects.filter(pk__in=[m.pk for m in messages])
               .values_list("claimed_by", flat=True))
    assert held == {"ward-desktop:99:alive1"}


def test_esc_03_worker_asked_to_stop_mid_batch_hands_back_what_it_has_not_sent(
        trust, timing, time_machine, mailoutbox, monkeypatch):
    time_machine.move_to(T0, tick=False)
    _emails(trust, count=3)
    worker = Worker()
    real_send = transports.send

    def send_then_sigterm(delivery):
        worker.stop()  # what SIGTERM's handler does while a send waits on the mail server
        return real_send(delivery)

    monkeypatch.setattr(transports, "send", send_then_sigterm)
    worker.tick()
    assert len(mailoutbox) == 1
    rest = Delivery.objects.filter(status=Delivery.Status.PENDING)
    assert rest.count() == 2
    # Due at once and not held, for another worker to send now; the attempt never began.
    assert all(d.claimed_by is None and d.next_attempt_at <= clock.now() and d.attempts == 0
               for d in rest)


def test_esc_03_what_a_failed_pass_or_a_stopping_worker_holds_goes_back_at_once(
        trust, timing, time_machine, monkeypatch):
    time_machine.move_to(T0, tick=False)
    [message] = _emails(trust)
    failures = iter([RuntimeError("a bug half way through a batch"), None])

    def holds_then_fails():
        with transaction.atomic():
            claim.hold(Delivery.objects.filter(status=Delivery.Status.PENDING,
                                               claimed_by__isnull=True),
                       limit=10, lease=timedelta(seconds=60))
        error = next(failures)
        if error:
            raise error
        return 1

    monkeypatch.setattr(loop, "_scanners", [loop.Scanner("probe", holds_then_fails)])
    worker = Worker()
    worker.beat()
    worker.tick()  # the scanner fails, holding the message
    message.refresh_from_db()
    assert message.claimed_by == worker.name
    time_machine.move_to(clock.now() + timedelta(seconds=1), tick=False)
    worker.tick()  # the next pass gives it back first, then the probe holds it again
    message.refresh_from_db()
    assert message.claimed_by == worker.name
    assert message.claimed_at == clock.now()

    worker.stop()  # SIGTERM
    handlers = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    try:
        worker.run_forever()
    finally:
        signal.signal(signal.SIGTERM, handlers[0])
        signal.signal(signal.SIGINT, handlers[1])
    message.refresh_from_db()
    assert message.claimed_by is None
    assert message.next_attempt_at <= clock.now()  # due at once, not after the lease
    assert not Heartbeat.objects.filter(name=worker.name).exists()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_esc_03_heartbeat_beats_on_while_the_worker_waits_on_a_slow_send(settings):
    settings.WORKER_HEARTBEAT_SECONDS = 1
    worker = Worker()
    worker.start_heart()
    try:
        first = Heartbeat.objects.get(name=worker.name).beat_at
        time.sleep(2.6)  # the worker's own thread is busy, as in a send to a slow server
        last = Heartbeat.objects.get(name=worker.name).beat_at
    finally:
        worker.stop_heart()
    assert (last - first).total_seconds() >= 1.5


def test_esc_03_dead_after_shorter_than_two_heartbeats_stops_start_up(tmp_path):
    env = {**os.environ, "LONEWATCH_DATA_DIR": str(tmp_path),
           "LONEWATCH_WORKER_HEARTBEAT_SECONDS": "2", "LONEWATCH_WORKER_DEAD_AFTER_SECONDS": "3"}
    result = subprocess.run([sys.executable, "-m", "lonewatch", "check"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "LONEWATCH_WORKER_DEAD_AFTER_SECONDS must be at least twice" in result.stderr


def test_esc_03_worker_killed_mid_batch_has_recorded_what_it_sent_before(
        trust, timing, time_machine, mailoutbox, monkeypatch):
    time_machine.move_to(T0, tick=False)
    _emails(trust, count=3)
    monkeypatch.setattr(actions, "MARK_EVERY_SECONDS", 0)  # record after every send
    real_send, sends = transports.send, []

    def killed_at_the_third(delivery):
        sends.append(delivery.pk)
        if len(sends) == 3:
            raise Killed
        return real_send(delivery)

    monkeypatch.setattr(transports, "send", killed_at_the_third)
    with pytest.raises(Killed):
        send_due()
    # The two that went out are sent for good: nobody takes them back to send again.
    assert len(mailoutbox) == 2
    assert list(Delivery.objects.filter(status=Delivery.Status.SENT).values_list(
        "pk", flat=True).order_by("pk")) == sends[:2]
    assert Delivery.objects.get(pk=sends[2]).claimed_by == claim.holder()


def test_esc_03_a_message_sent_is_held_by_nobody(trust, timing, mailoutbox):
    _emails(trust)
    assert send_due() == 1 and len(mailoutbox) == 1
    assert not Delivery.objects.filter(claimed_by__isnull=False).exists()
