"""The command line: demo data, the worker's heartbeat, and `lonewatch run` as one unit."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from django.core.management import call_command

from lonewatch.core import audit
from lonewatch.org.models import Directorate, Person, RoleMembership, Team
from lonewatch.org.roles import Role
from lonewatch.worker import loop
from lonewatch.worker.models import Heartbeat


def test_org_01_demo_covers_every_role_and_is_safe_twice(db, capsys):
    call_command("demo")
    out = capsys.readouterr().out
    assert "Lonewatch-demo-1" in out and "maria.manager" in out
    counts = (Person.objects.count(), Team.objects.count(), Directorate.objects.count(),
              RoleMembership.objects.count())
    assert counts[0] >= 30 and counts[1] == 4 and counts[2] == 2
    assert set(RoleMembership.objects.values_list("role", flat=True)) == set(Role.values)
    assert not Person.objects.filter(buddy__isnull=False, buddy_accepted_at__isnull=True).exists()
    call_command("demo")
    assert (Person.objects.count(), Team.objects.count(), Directorate.objects.count(),
            RoleMembership.objects.count()) == counts
    assert audit.verify()[1] == []


def test_worker_once_beats_the_heartbeat_and_runs_scanners(db, monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(loop, "_scanners", [loop.Scanner("probe", lambda: calls.append(1) or 2)])
    call_command("worker", "--once")
    assert Heartbeat.objects.count() == 1
    assert calls == [1] and "handled 2" in capsys.readouterr().out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get_json(url):
    with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback only
        return json.loads(response.read())


@pytest.mark.slow
def test_run_serves_and_works_then_stops_cleanly_on_ctrl_c(tmp_path):
    port = _free_port()
    env = {**os.environ, "LONEWATCH_DATA_DIR": str(tmp_path),
           "DATABASE_URL": f"sqlite:///{tmp_path}/run.sqlite3",
           "LONEWATCH_WORKER_HEARTBEAT_SECONDS": "1", "LONEWATCH_SERVER_WORKERS": "1",
           "LONEWATCH_SERVER_THREADS": "2"}
    process = subprocess.Popen(
        [sys.executable, "-m", "lonewatch", "run", "--port", str(port)], env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        # Migrating a new database comes first: on a busy machine that takes a while.
        body, deadline = None, time.monotonic() + 150
        while time.monotonic() < deadline:
            try:
                body = _get_json(f"http://127.0.0.1:{port}/healthz")
                if body["worker"] == "ok":
                    break
            except OSError:
                pass
            time.sleep(0.3)
        assert body is not None and body["status"] == "ok" and body["database"] == "ok", body
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C does in a terminal
        output, _ = process.communicate(timeout=30)
        assert process.returncode == 0, output.decode()[-2000:]
        assert b"stopped" in output
        with pytest.raises(OSError):
            _get_json(f"http://127.0.0.1:{port}/healthz")
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_q_perf_an_idle_scanner_that_is_not_urgent_looks_again_only_every_15_seconds(
        db, monkeypatch):
    """Urgent scanners run on every pass; one nobody's safety waits on, once it finds
    nothing, waits IDLE_RECHECK_SECONDS, and while it finds work it runs on every pass."""
    calls = {"urgent": 0, "reminders": 0, "destruction": 0}
    found = {"destruction": 3}

    def scanner(name):
        def run():
            calls[name] += 1
            if name == "destruction" and found["destruction"]:
                found["destruction"] -= 1
                return 1
            return 0
        return run

    monkeypatch.setattr(loop, "_scanners", [
        loop.Scanner("urgent", scanner("urgent")),
        loop.Scanner("reminders", scanner("reminders"), urgent=False),
        loop.Scanner("destruction", scanner("destruction"), urgent=False)])
    now = [1000.0]
    monkeypatch.setattr(loop.time, "monotonic", lambda: now[0])
    worker = loop.Worker()
    for _ in range(5):
        worker.tick()
        now[0] += 0.2
    # destruction found work three times, then nothing; reminders found nothing at once
    assert calls == {"urgent": 5, "reminders": 1, "destruction": 4}
    now[0] += loop.IDLE_RECHECK_SECONDS
    worker.tick()
    assert calls == {"urgent": 6, "reminders": 2, "destruction": 5}
