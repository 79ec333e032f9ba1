"""Alarm to console (ALM-02, Q-PERF): with 20 consoles on the event stream and red
alarms arriving over HTTP at a steady rate, how long from the POST's answer to the
event reaching every console. Two server processes on PostgreSQL (the event must
cross processes), then the embedded default (SQLite, one process).

Alarms arrive open-loop: several phones post on a fixed timetable (50 a second by
default) whether or not earlier answers have come back, so a slow server shows up as
a lower rate and longer answers rather than as a slower client, and alarm
transactions overlap as they would in real life. Each console and each phone keeps one
connection; the figures say which server process holds each, so a PostgreSQL run shows
events crossing from one process to the other.
"""

import http.client
import json
import os
import shutil
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

from bench.common import lonewatch_env, run, scratch_database, server, temp_dir

CONSOLES = int(os.environ.get("BENCH_CONSOLES", "20"))
RATE = float(os.environ.get("BENCH_ALARM_RATE", "50"))
SECONDS = float(os.environ.get("BENCH_ALARM_SECONDS", "10"))
PHONES = int(os.environ.get("BENCH_PHONES", "8"))  # concurrent posting connections
THREADS = int(os.environ.get("BENCH_THREADS", "32"))  # LONEWATCH_SERVER_THREADS' default
POLL_MS = os.environ.get("BENCH_ALARM_POLL_MS", "50")  # LONEWATCH_ALARM_STREAM_POLL_MS's
IDLE_SECONDS = 5

SEED = r"""
import sys
import django
django.setup()
from lonewatch.accounts.actions import do_create_token
from lonewatch.accounts.models import User
from lonewatch.alarms.actions import do_duty
from lonewatch.org.models import Organisation, Person, RoleMembership
from lonewatch import clock
from lonewatch.org.roles import Role, Scope

org = Organisation.objects.create(name="Bench Trust")
def person(name, role, scope):
    p = Person.objects.create(user=User.objects.create(username=name, password="!"),
                              organisation=org, full_name=name, location_consent_at=clock.now())
    RoleMembership.objects.create(person=p, role=role, scope=scope)
    return p
operator = person("operator", Role.ALARM_OPERATOR, Scope.ORGANISATION)
do_duty(operator, on=True, actor=None)
workers = [person(f"worker{i}", Role.LONE_WORKER, Scope.OWN) for i in range(int(sys.argv[1]))]
print(do_create_token(operator.user, name="console", actor=None, privileged=True)[1])
for w in workers:
    print(do_create_token(w.user, name="phone", actor=None)[1])
"""


_serving: dict[int, int | str] = {}


def serving_process(conn: http.client.HTTPConnection, server_port: int) -> int | str:
    """The pid of the server process holding the other end of ``conn`` (Linux /proc),
    looked up once per connection."""
    client_port = conn.sock.getsockname()[1]
    if client_port not in _serving:
        _serving[client_port] = _lookup(client_port, server_port) or "unknown"
    return _serving[client_port]


def _lookup(client_port: int, server_port: int) -> int | None:
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = (int(a.split(":")[1], 16) for a in fields[1:3])
        if local == server_port and remote == client_port and fields[9] != "0":
            inode = fields[9]
    if inode is None:
        return None
    for fd_dir in Path("/proc").glob("[0-9]*/fd"):
        try:
            if any(os.readlink(fd) == f"socket:[{inode}]" for fd in fd_dir.iterdir()):
                return int(fd_dir.parent.name)
        except OSError:
            continue  # not ours to read, or gone
    return None


def server_cpu_seconds(port: int) -> float:
    """CPU time used so far by the granian processes serving ``port``."""
    ticks = 0
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            args = (proc / "cmdline").read_bytes().split(b"\0")
            if b"granian" not in args[1] or str(port).encode() not in args:
                continue
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime + stime
    return ticks / os.sysconf("SC_CLK_TCK")


def trial(env: dict, workers: int, label: str) -> None:
    lines = run([sys.executable, "-c", SEED, "50"], env=env).stdout.split()
    console_token, worker_tokens = lines[0], lines[1:]
    answered: dict[int, float] = {}
    answer_ms: list[float] = []
    answered_by: Counter = Counter()
    seen: list[dict[int, float]] = [{} for _ in range(CONSOLES)]
    connected = [threading.Event() for _ in range(CONSOLES)]
    consoles_on: Counter = Counter()
    lock = threading.Lock()
    with server(env, workers=workers, threads=THREADS) as base:
        host, port = urlsplit(base).hostname, urlsplit(base).port

        def console(n):
            conn = http.client.HTTPConnection(host, port, timeout=SECONDS + 60)
            conn.request("GET", "/api/v1/alarms/events",
                         headers={"Authorization": f"Bearer {console_token}"})
            response = conn.getresponse()
            event = None
            while line := response.readline().decode():
                if line.startswith("retry:"):
                    # The first bytes: from here on the console hears every new alarm.
                    with lock:
                        consoles_on[serving_process(conn, port)] += 1
                    connected[n].set()
                elif line.startswith("event: alarm.raised"):
                    event = "raised"
                elif line.startswith("data: ") and event == "raised":
                    alarm_id = int(line.split('"id": ', 1)[1].split(",", 1)[0])
                    seen[n].setdefault(alarm_id, time.monotonic())
                    event = None

        def phone(k, started):
            conn = http.client.HTTPConnection(host, port, timeout=30)
            slot = k
            while slot < RATE * SECONDS:
                pause = started + slot / RATE - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                token = worker_tokens[slot % len(worker_tokens)]
                sent = time.monotonic()
                conn.request("POST", "/api/v1/alarms", body=json.dumps({"lat": 52.6, "lon": 0.2}),
                             headers={"Authorization": f"Bearer {token}",
                                      "Content-Type": "application/json"})
                response = conn.getresponse()
                body = response.read()
                at = time.monotonic()
                if response.status == 201:
                    with lock:
                        answered[json.loads(body)["id"]] = at
                        answer_ms.append((at - sent) * 1000)
                        answered_by[serving_process(conn, port)] += 1
                slot += PHONES

        for n in range(CONSOLES):
            threading.Thread(target=console, args=(n,), daemon=True).start()
        for n, ready in enumerate(connected):
            if not ready.wait(30):
                raise RuntimeError(f"console {n} did not connect")
        idle_cpu = server_cpu_seconds(port)
        time.sleep(IDLE_SECONDS)  # what 20 open, waiting consoles cost the server
        busy_cpu = server_cpu_seconds(port)
        idle_cpu = busy_cpu - idle_cpu
        started = time.monotonic()
        phones = [threading.Thread(target=phone, args=(k, started), daemon=True)
                  for k in range(PHONES)]
        for t in phones:
            t.start()
        for t in phones:
            t.join()
        elapsed = time.monotonic() - started
        deadline = time.monotonic() + 10  # stragglers: count what is still missing then
        while time.monotonic() < deadline:
            with lock:
                if all(answered.keys() <= s.keys() for s in seen):
                    break
            time.sleep(0.05)
        busy_cpu = server_cpu_seconds(port) - busy_cpu
        gap = reconnect(host, port, console_token, worker_tokens)
    delays, missing = [], 0
    for alarm_id, at in answered.items():
        for console_seen in seen:
            if alarm_id in console_seen:
                delays.append(max(0.0, console_seen[alarm_id] - at) * 1000)
            else:
                missing += 1
    delays.sort()
    answer_ms.sort()

    def pct(values, p):
        return values[min(len(values) - 1, int(p / 100 * len(values)))] if values else 0

    def split(counter):
        return " + ".join(str(n) for _, n in counter.most_common())

    rate = len(answered) / elapsed
    print(f"{label}: {CONSOLES} consoles, {rate:.0f} red alarms/s answered 201 "
          f"({len(answered)} in {elapsed:.1f} s; {PHONES} phones aiming at {RATE:.0f}/s)")
    print(f"  POST answer: p50 {pct(answer_ms, 50):.0f} ms, p99 {pct(answer_ms, 99):.0f} ms")
    print(f"  answer -> every console: p50 {pct(delays, 50):.0f} ms, p99 {pct(delays, 99):.0f} ms, "
          f"worst {delays[-1] if delays else 0:.0f} ms; missed deliveries: {missing}")
    print(f"  per server process: consoles {split(consoles_on)}; "
          f"alarms answered {split(answered_by)}")
    print(f"  server CPU: {100 * idle_cpu / IDLE_SECONDS:.1f} % of a core while the consoles "
          f"wait, {1000 * busy_cpu / max(1, len(answered)):.1f} ms per alarm answered and "
          "delivered to every console")
    print(f"  console away while {gap['raised']} alarms were raised, back with Last-Event-ID: "
          f"all of them {gap['ms']:.0f} ms after reconnecting; missed {gap['missed']}, "
          f"twice {gap['twice']}")


def _read_events(response, until, deadline: float) -> list[tuple[int, str, int | None]]:
    """(event id, event name, alarm id) of each event read, until ``until(events)``."""
    events, event_id, name = [], None, None
    while time.monotonic() < deadline and not until(events):
        line = response.readline().decode()
        if not line:
            break
        if line.startswith("id: "):
            event_id = int(line[4:])
        elif line.startswith("event: "):
            name = line[7:].strip()
        elif line.startswith("data: "):
            alarm_id = int(line.split('"id": ', 1)[1].split(",", 1)[0])
            events.append((event_id, name, alarm_id))
        elif line.startswith("retry:"):
            events.append((None, "connected", None))
    return events


def reconnect(host, port, console_token, worker_tokens, count: int = 50) -> dict:
    """A console that loses its connection while ``count`` alarms are raised, then comes
    back with the last event id it saw: does it get every one of them, once?"""
    headers = {"Authorization": f"Bearer {console_token}"}
    phone = http.client.HTTPConnection(host, port, timeout=30)

    def raise_alarm(token) -> int:
        phone.request("POST", "/api/v1/alarms", body=json.dumps({"lat": 52.6, "lon": 0.2}),
                      headers={"Authorization": f"Bearer {token}",
                               "Content-Type": "application/json"})
        response = phone.getresponse()
        return json.loads(response.read())["id"]

    conn = http.client.HTTPConnection(host, port, timeout=30)
    conn.request("GET", "/api/v1/alarms/events", headers=headers)
    response = conn.getresponse()
    _read_events(response, lambda e: e, time.monotonic() + 10)  # connected
    first = raise_alarm(worker_tokens[0])
    events = _read_events(response, lambda e: any(a == first for _, _, a in e),
                          time.monotonic() + 10)
    last_id = max(i for i, _, _ in events if i is not None)
    conn.close()  # the connection drops
    raised = [raise_alarm(worker_tokens[1 + n % (len(worker_tokens) - 1)])
              for n in range(count)]
    back = time.monotonic()
    conn = http.client.HTTPConnection(host, port, timeout=30)
    conn.request("GET", "/api/v1/alarms/events", headers=headers | {"Last-Event-ID": str(last_id)})
    response = conn.getresponse()
    wanted = set(raised)
    events = _read_events(
        response, lambda e: wanted <= {a for _, n, a in e if n == "alarm.raised"},
        time.monotonic() + 30)
    elapsed = (time.monotonic() - back) * 1000
    conn.close()
    got = [a for _, n, a in events if n == "alarm.raised"]
    return {"raised": count, "ms": elapsed, "missed": len(wanted - set(got)),
            "twice": len(got) - len(set(got))}


def main() -> None:
    data_dir = temp_dir()
    try:
        with scratch_database("lonewatch_bench_alarms") as url:
            env = lonewatch_env(url, data_dir)
            run([sys.executable, "-m", "lonewatch", "migrate", "-v0"], env=env)
            trial(env, 2, f"PostgreSQL, 2 server processes x {THREADS} threads")
        sqlite = temp_dir()
        env = lonewatch_env(f"sqlite:///{sqlite}/bench.sqlite3", sqlite,
                            LONEWATCH_ALARM_STREAM_POLL_MS=POLL_MS)
        run([sys.executable, "-m", "lonewatch", "migrate", "-v0"], env=env)
        trial(env, 1, f"SQLite, 1 server process x {THREADS} threads, hub polling every "
                      f"{POLL_MS} ms")
        shutil.rmtree(sqlite, ignore_errors=True)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
