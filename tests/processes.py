"""Start real Lonewatch processes against the test database, for fault tests."""

import os
import signal
import subprocess
import sys
import time
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


def start_worker(tmp_path, **extra) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "lonewatch", "worker"],
                            env=env(tmp_path, **extra), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)


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
