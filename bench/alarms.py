"""Alarm to console (ALM-02, Q-PERF): with 20 consoles on the event stream and red
alarms arriving over HTTP at a steady rate, how long from the POST's answer to the
event reaching every console. Two server processes on PostgreSQL (the event must
cross processes), then the embedded default (SQLite, one process).
"""

import os
import shutil
import sys
import threading
import time

import requests

from bench.common import lonewatch_env, run, scratch_database, server, temp_dir

CONSOLES = int(os.environ.get("BENCH_CONSOLES", "20"))
RATE = float(os.environ.get("BENCH_ALARM_RATE", "50"))
SECONDS = float(os.environ.get("BENCH_ALARM_SECONDS", "10"))

SEED = r"""
import sys
import django
django.setup()
from lonewatch.accounts.actions import do_create_token
from lonewatch.accounts.models import User
from lonewatch.alarms.actions import do_duty
from lonewatch.core.permissions import Role, Scope
from lonewatch.org.models import Organisation, Person, RoleMembership
from lonewatch import clock

org = Organisation.objects.create(name="Bench Trust")
def person(name, role, scope):
    p = Person.objects.create(user=User.objects.create(username=name, password="!"),
                              organisation=org, full_name=name, location_consent_at=clock.now())
    RoleMembership.objects.create(person=p, role=role, scope=scope)
    return p
operator = person("operator", Role.ALARM_OPERATOR, Scope.ORGANISATION)
do_duty(operator, on=True, actor=None)
workers = [person(f"worker{i}", Role.LONE_WORKER, Scope.OWN) for i in range(int(sys.argv[1]))]
print(do_create_token(operator.user, name="console", actor=None)[1])
for w in workers:
    print(do_create_token(w.user, name="phone", actor=None)[1])
"""


def trial(env: dict, workers: int, label: str) -> None:
    lines = run([sys.executable, "-c", SEED, "50"], env=env).stdout.split()
    console_token, worker_tokens = lines[0], lines[1:]
    answered: dict[int, float] = {}
    seen: list[dict[int, float]] = [{} for _ in range(CONSOLES)]
    stop = threading.Event()
    with server(env, workers=workers, threads=CONSOLES + 8) as base:
        def console(n):
            headers = {"Authorization": f"Bearer {console_token}"}
            with requests.get(f"{base}/api/v1/alarms/events", headers=headers, stream=True,
                              timeout=SECONDS + 30) as response:
                event = None
                for line in response.iter_lines(decode_unicode=True):
                    if stop.is_set():
                        return
                    if line.startswith("event: alarm.raised"):
                        event = "raised"
                    elif line.startswith("data: ") and event == "raised":
                        alarm_id = int(line.split('"id": ', 1)[1].split(",", 1)[0])
                        seen[n].setdefault(alarm_id, time.monotonic())
                        event = None

        threads = [threading.Thread(target=console, args=(n,), daemon=True)
                   for n in range(CONSOLES)]
        for t in threads:
            t.start()
        time.sleep(2)  # every console connected
        session = requests.Session()
        started, sent = time.monotonic(), 0
        while time.monotonic() - started < SECONDS:
            token = worker_tokens[sent % len(worker_tokens)]
            response = session.post(f"{base}/api/v1/alarms", json={"lat": 52.6, "lon": 0.2},
                                    headers={"Authorization": f"Bearer {token}"}, timeout=10)
            if response.status_code == 201:
                answered[response.json()["id"]] = time.monotonic()
            sent += 1
            pause = started + sent / RATE - time.monotonic()
            if pause > 0:
                time.sleep(pause)
        time.sleep(3)
        stop.set()
    delays, missing = [], 0
    for alarm_id, at in answered.items():
        for console_seen in seen:
            if alarm_id in console_seen:
                delays.append(max(0.0, console_seen[alarm_id] - at) * 1000)
            else:
                missing += 1
    delays.sort()

    def pct(p):
        return delays[min(len(delays) - 1, int(p / 100 * len(delays)))] if delays else 0

    rate = len(answered) / SECONDS
    print(f"{label}: {CONSOLES} consoles, {rate:.0f} red alarms/s answered 201 "
          f"({len(answered)} in {SECONDS:.0f} s)")
    print(f"  answer -> every console: p50 {pct(50):.0f} ms, p99 {pct(99):.0f} ms, "
          f"worst {delays[-1] if delays else 0:.0f} ms; missed deliveries: {missing}")


def main() -> None:
    data_dir = temp_dir()
    try:
        with scratch_database("lonewatch_bench_alarms") as url:
            env = lonewatch_env(url, data_dir, LONEWATCH_ALARM_STREAM_POLL_MS="100")
            run([sys.executable, "-m", "lonewatch", "migrate", "-v0"], env=env)
            trial(env, 2, "PostgreSQL, 2 server processes")
        sqlite = temp_dir()
        env = lonewatch_env(f"sqlite:///{sqlite}/bench.sqlite3", sqlite,
                            LONEWATCH_ALARM_STREAM_POLL_MS="100")
        run([sys.executable, "-m", "lonewatch", "migrate", "-v0"], env=env)
        trial(env, 1, "SQLite, 1 server process")
        shutil.rmtree(sqlite, ignore_errors=True)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
