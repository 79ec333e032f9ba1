"""Start real Lonewatch processes against the test database, for fault tests."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from django.db import connection


def database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{db.get('HOST') or '127.0.0.1'}:" \
           f"{db.get('PORT') or 5432}/{db['NAME']}"


def env(tmp_path, **extra) -> dict:
    return {**os.environ, "DATABASE_URL": database_url(), "LONEWATCH_DATA_DIR": str(tmp_path),
            "LONEWATCH_MIN_CHECKIN_INTERVAL_SECONDS": "1",
            "LONEWATCH_WORKER_HEARTBEAT_SECONDS": "1", "LONEWATCH_WATCHDOG_GRACE_SECONDS": "2",
            "LONEWATCH_LOG_LEVEL": "warning", "LONEWATCH_DELIVERY_LEASE_SECONDS": "5", **extra}


def start_worker(tmp_path, *, log: Path | None = None, **extra) -> subprocess.Popen:
    """`lonewatch worker`; its log lines (on stdout) go to the file ``log``, if given."""
    with (log.open("ab") if log else open(os.devnull, "wb")) as out:
        return subprocess.Popen([sys.executable, "-m", "lonewatch", "worker"],
                                env=env(tmp_path, **extra), stdout=out,
                                stderr=subprocess.PIPE, start_new_session=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=2)  # noqa: S310 - loopback only
    except urllib.error.HTTPError:
        return True  # a 503 from /healthz is still a server answering
    except OSError:
        return False
    return True


def start_server(tmp_path, port: int, *, threads: int = 4, **extra) -> subprocess.Popen:
    """`lonewatch serve` (granian, one worker process) on ``port``, once it answers.

    Its output goes to a file in ``tmp_path`` (a pipe nobody reads could fill and stall
    it); the file is named by ``process.log``.
    """
    log = Path(tmp_path) / f"server-{port}-{time.monotonic_ns()}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "lonewatch", "serve", "--port", str(port), "--workers",
             "1", "--threads", str(threads)],
            env=env(tmp_path, **extra), stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True)
    process.log = log
    try:
        wait_for(lambda: process.poll() is not None or _answers(
            f"http://127.0.0.1:{port}/healthz"), timeout=60, what="the server to answer")
    except AssertionError:
        stop(process, signal.SIGKILL)
        raise
    if process.poll() is not None:
        raise AssertionError(f"the server exited: {log.read_text()[-2000:]}")
    return process


def group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes in process group ``pgid``."""
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone while we looked
        if int(fields[2]) == pgid and fields[0] != "Z":
            alive.append(int(stat.parent.name))
    return alive


def kill_group(process: subprocess.Popen) -> None:
    """kill -9 the process and every child in its group (granian's workers too)."""
    with contextlib.suppress(ProcessLookupError):  # the whole group is already gone
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    wait_for(lambda: not group_members(process.pid), timeout=10,
             what=f"every process in group {process.pid} to die", every=0.05)


def stop(process: subprocess.Popen, sig=signal.SIGTERM) -> None:
    if process.poll() is None:
        os.killpg(process.pid, sig)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def wait_for(predicate, *, timeout: float, what: str, every: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
