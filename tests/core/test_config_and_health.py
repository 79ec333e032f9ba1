"""Strict configuration, /healthz, structured logs."""

import json
import logging
import os
import subprocess
import sys
from datetime import timedelta

import pytest

from lonewatch import clock
from lonewatch.env import ConfigError, env_bool, env_int, env_url
from lonewatch.worker.models import Heartbeat


@pytest.mark.parametrize(
    ("func", "value", "message"),
    [
        (lambda e: env_int("X_INT", 5, minimum=1, environ=e), "five", "X_INT must be a whole"),
        (lambda e: env_int("X_INT", 5, minimum=1, environ=e), "0", "X_INT must be at least 1"),
        (lambda e: env_bool("X_BOOL", False, environ=e), "maybe", "X_BOOL must be true or"),
        (lambda e: env_url("X_URL", "sqlite:///a", ("sqlite", "postgres"), environ=e),
         "mysql://x", "X_URL must start with one of sqlite://, postgres://"),
    ],
)
def test_bad_setting_names_the_variable(func, value, message):
    name = message.split()[0]
    with pytest.raises(ConfigError, match=message):
        func({name: value})


def test_good_and_missing_settings_fall_back_to_defaults():
    assert env_int("X", 7, environ={}) == 7
    assert env_bool("X", False, environ={"X": "Yes"}) is True


def test_wrong_value_stops_start_up_with_a_message(tmp_path):
    env = {**os.environ, "LONEWATCH_WORKER_HEARTBEAT_SECONDS": "often",
           "LONEWATCH_DATA_DIR": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "lonewatch", "check"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "LONEWATCH_WORKER_HEARTBEAT_SECONDS must be a whole number" in result.stderr
    env = {**os.environ, "DATABASE_URL": "mysql://db/x", "LONEWATCH_DATA_DIR": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "lonewatch", "check"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "DATABASE_URL must start with" in result.stderr


def test_healthz_reports_database_and_missing_worker(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "degraded", "database": "ok", "worker": "none",
                               "worker_heartbeat_age_seconds": None, "escalation": "ok",
                               "oldest_missed_deadline_seconds": None,
                               "oldest_overdue_step_seconds": None,
                               "oldest_pending_message_seconds": None}


def test_healthz_reports_heartbeat_age(client, db, time_machine):
    time_machine.move_to("2026-11-22 10:00:00+00:00", tick=False)
    Heartbeat.objects.create(name="w1", pid=1, host="h", started_at=clock.now(),
                             beat_at=clock.now() - timedelta(seconds=3))
    body = client.get("/healthz").json()
    assert body["status"] == "ok" and body["worker"] == "ok"
    assert body["worker_heartbeat_age_seconds"] == 3.0
    time_machine.shift(timedelta(minutes=5))
    body = client.get("/healthz").json()
    assert body["status"] == "degraded" and body["worker"] == "stale"


def test_logs_are_json_with_the_request_id(client, db, capsys):
    from django.conf import settings
    from pythonjsonlogger.json import JsonFormatter

    from lonewatch.core.logs import RequestIdFilter

    fmt = settings.LOGGING["formatters"]["json"]
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(fmt["fmt"], rename_fields=fmt["rename_fields"]))
    handler.addFilter(RequestIdFilter())
    logger = logging.getLogger("lonewatch.http")
    logger.addHandler(handler)
    try:
        response = client.get("/healthz", headers={"X-Request-ID": "trace-abc-12345"})
    finally:
        logger.removeHandler(handler)
    assert response["X-Request-ID"] == "trace-abc-12345"
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()
             if line.startswith("{")]
    line = next(entry for entry in lines if entry.get("path") == "/healthz")
    assert line["request_id"] == "trace-abc-12345" and line["status"] == 200
    assert line["level"] == "INFO" and line["message"] == "request"


def test_bad_time_zone_stops_start_up_with_a_message(tmp_path):
    env = {**os.environ, "LONEWATCH_TIME_ZONE": "Mars/Olympus", "LONEWATCH_DATA_DIR": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "lonewatch", "check"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "LONEWATCH_TIME_ZONE must be a time zone" in result.stderr


def test_client_address_behind_a_proxy_is_the_last_forwarded_hop(rf, settings):
    from lonewatch.core.middleware import client_address

    request = rf.get("/", HTTP_X_FORWARDED_FOR="203.0.113.9, 198.51.100.7",
                     REMOTE_ADDR="127.0.0.1")
    assert client_address(request) == "127.0.0.1"
    settings.BEHIND_PROXY = True
    assert client_address(request) == "198.51.100.7"


def test_esc_03_healthz_reports_an_overdue_step_nobody_fired(client, start_session,
                                                             time_machine, settings):
    """The watchdog's view: with no worker running, the missed deadline shows its age."""
    from lonewatch.escalation import actions as engine
    from lonewatch.notify.actions import send_due

    settings.WATCHDOG_GRACE_SECONDS = 30
    time_machine.move_to("2026-11-23 09:00:00+00:00", tick=False)
    start_session(interval=600)
    Heartbeat.objects.create(name="w1", pid=1, host="h", started_at=clock.now(),
                             beat_at=clock.now())
    time_machine.move_to("2026-11-23 09:11:00+00:00", tick=False)
    Heartbeat.objects.update(beat_at=clock.now())
    body = client.get("/healthz").json()
    assert body["oldest_missed_deadline_seconds"] == 60.0
    assert body["escalation"] == "behind" and body["status"] == "degraded"
    engine.start_due()  # the first step (the worker, at once) fires in the same pass
    body = client.get("/healthz").json()
    assert body["oldest_missed_deadline_seconds"] is None
    assert body["oldest_overdue_step_seconds"] is None
    time_machine.move_to("2026-11-23 09:16:00+00:00", tick=False)  # the buddy's was 09:15
    Heartbeat.objects.update(beat_at=clock.now())
    body = client.get("/healthz").json()
    assert body["oldest_overdue_step_seconds"] == 60.0
    assert body["escalation"] == "behind" and body["status"] == "degraded"
    engine.fire_due()
    send_due()
    body = client.get("/healthz").json()
    assert body["escalation"] == "ok" and body["status"] == "ok"


def test_config_minimum_interval_above_maximum_stops_start_up(tmp_path):
    env = {**os.environ, "LONEWATCH_MIN_CHECKIN_INTERVAL_SECONDS": "90000",
           "LONEWATCH_DATA_DIR": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "lonewatch", "check"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "must not be more than" in result.stderr


@pytest.mark.parametrize(("url", "message"), [
    ("https://tiles.example.nhs.uk/{z}/{x}.png",
     "LONEWATCH_MAP_TILE_URL must contain {z}, {x} and {y} (missing {y})"),
    ("tiles.example.nhs.uk/{z}/{x}/{y}.png", "LONEWATCH_MAP_TILE_URL must start with https://"),
])
def test_alm_02_bad_map_tile_url_stops_start_up_with_a_message(tmp_path, url, message):
    env = {**os.environ, "LONEWATCH_MAP_TILE_URL": url, "LONEWATCH_DATA_DIR": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "lonewatch", "check"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and message in result.stderr
