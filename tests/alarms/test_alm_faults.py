"""ALM-02 / ALM-04 / Q-REL fault tests: a real server (granian) killed the moment it has
answered 201 to a red alert, and a console whose connection drops.

Like the ESC-03 fault tests these run against the suite's own database (SQLite by
default, PostgreSQL when DATABASE_URL says so) with real processes and real time. What
they check goes through HTTP only (the list, the event stream), so they hold however
the server finds new alarm events; re-alert rounds are read from the database.
"""

import http.client
import json
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta

import pytest

from lonewatch.alarms.actions import do_duty
from lonewatch.alarms.models import Alarm, AlarmEvent
from lonewatch.notify.models import Delivery
from tests.conftest import token_for
from tests.processes import free_port, kill_group, start_server, start_worker, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ACK_SECONDS = 5  # the shortest LONEWATCH_ALARM_ACK_SECONDS allows
FAST = {"LONEWATCH_ALARM_ACK_SECONDS": str(ACK_SECONDS), "LONEWATCH_ALARM_STREAM_POLL_MS": "50"}


def token(person) -> str:
    return token_for(person, "fault test")


def call(port: int, method: str, path: str, bearer: str, body: dict | None = None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(method, path, body=None if body is None else json.dumps(body),
                           headers={"Authorization": f"Bearer {bearer}",
                                    "Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        connection.close()


def raise_red(port: int, bearer: str) -> int:
    status, body = call(port, "POST", "/api/v1/alarms", bearer, {"message": "Help"})
    assert status == 201, body
    return body["id"]


@dataclass
class Event:
    id: int
    name: str
    data: dict

    @property
    def alarm_id(self) -> int:
        return self.data["id"]


class Console:
    """The alarm centre's console on GET /api/v1/alarms/events, read as EventSource
    reads it. Opening waits for the stream's first bytes: from then on the server
    has settled where the console starts."""

    def __init__(self, port: int, bearer: str, last_event_id: int | None = None):
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        headers = {"Authorization": f"Bearer {bearer}", "Accept": "text/event-stream"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = str(last_event_id)
        self.connection.request("GET", "/api/v1/alarms/events", headers=headers)
        self.response = self.connection.getresponse()
        assert self.response.status == 200, self.response.read(2000)
        assert self.response.getheader("Content-Type") == "text/event-stream"
        self.events: list[Event] = []
        self.started = False
        try:
            while not self.started:
                self._read_block()
        except TimeoutError:
            self.connection.close()
            raise AssertionError("the event stream sent nothing for 10 s") from None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.connection.close()  # the console goes away, as a closed laptop lid would

    def _read_block(self) -> None:
        """Read one message (up to its blank line); keep it if it is an event."""
        fields: dict[str, str] = {}
        while True:
            line = self.response.readline()
            if not line:
                raise AssertionError(f"the event stream ended; events so far: {self.events}")
            self.started = True
            line = line.decode().rstrip("\r\n")
            if not line:
                break
            if line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")
        if "data" in fields:
            self.events.append(Event(int(fields["id"]), fields.get("event", "message"),
                                     json.loads(fields["data"])))

    def read_until(self, done, *, timeout: float = 10) -> list[Event]:
        """Read until ``done(events)`` holds; every event read so far is returned."""
        deadline = time.monotonic() + timeout
        try:
            while not done(self.events):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError
                # Keep-alive comments must not keep a test waiting for ever.
                self.connection.sock.settimeout(left)
                self._read_block()
        except TimeoutError:
            raise AssertionError(f"no such event within {timeout} s; events: "
                                 f"{self.events}") from None
        return self.events


def assert_no_tracebacks(tmp_path, *workers) -> None:
    """Nothing crashed on the way: not the servers (their logs), not the worker."""
    for log in tmp_path.glob("server-*.log"):
        assert "Traceback" not in log.read_text(), log.read_text()[-3000:]
    for worker in workers:
        errors = worker.stderr.read().decode(errors="replace")
        assert "Traceback" not in errors, errors[-3000:]


def raised(events: list[Event]) -> list[int]:
    return [e.alarm_id for e in events if e.name == "alarm.raised"]


def test_alm_02_alm_04_server_killed_right_after_201_alarm_reaches_consoles_and_re_alerts(
        trust, tmp_path):
    olivia, leslie, nina = trust.people["olivia"], trust.people["leslie"], trust.people["nina"]
    do_duty(olivia, on=True, actor=olivia.user)
    phone, desk = token(nina), token(olivia)
    port = free_port()
    worker, server = start_worker(tmp_path, **FAST), None
    try:
        server = start_server(tmp_path, port, **FAST)
        with Console(port, desk) as console:
            status, amber = call(port, "POST", "/api/v1/ambers", phone, {"message": "Dog"})
            assert status == 201
            seen = console.read_until(lambda events: amber["id"] in raised(events))
        before = seen[-1].id  # the last event this console saw before the red alert

        red = raise_red(port, phone)
        kill_group(server)  # kill -9 the moment the 201 arrives, granian's worker with it
        with pytest.raises(OSError):
            call(port, "GET", "/api/v1/alarms", desk)
        server = start_server(tmp_path, port, **FAST)

        # Q-REL: the alarm was committed before the answer; the new server lists it.
        status, waiting = call(port, "GET", "/api/v1/alarms?state=raised", desk)
        assert status == 200 and [a["id"] for a in waiting] == [red]
        # ALM-02: a console back on the stream from before the alarm is told of it.
        with Console(port, desk, last_event_id=before) as console:
            events = console.read_until(lambda events: red in raised(events))
        assert raised(events) == [red] and events[0].id > before
        assert next(e for e in events if e.name == "alarm.raised").data["state"] == "raised"
        # ALM-04: nobody acknowledges, so the worker keeps re-alerting, round after round.
        wait_for(lambda: Alarm.objects.get(pk=red).realerts >= 2, timeout=4 * ACK_SECONDS + 10,
                 what="two re-alert rounds")
    finally:
        if server is not None:
            kill_group(server)
        kill_group(worker)
    assert_no_tracebacks(tmp_path, worker)
    alarm = Alarm.objects.get(pk=red)
    assert alarm.state == "raised"
    assert Delivery.objects.filter(purpose="alarm_raised", channel="in_app",
                                   recipient=olivia).count() == 1
    rounds = list(AlarmEvent.objects.filter(alarm=alarm, kind="realert").order_by("at"))
    assert [r.data["realert"] for r in rounds] == list(range(1, alarm.realerts + 1))
    assert rounds[0].at - alarm.raised_at >= timedelta(seconds=ACK_SECONDS)
    assert rounds[1].at - rounds[0].at >= timedelta(seconds=ACK_SECONDS)
    # One round is one batch of in-app messages (one time), each to the operator on duty
    # and the security manager.
    told = defaultdict(set)
    for created_at, recipient in Delivery.objects.filter(
            purpose="alarm_realert", channel="in_app").values_list("created_at", "recipient"):
        told[created_at].add(recipient)
    assert len(told) == alarm.realerts
    assert all(people == {olivia.pk, leslie.pk} for people in told.values())


def test_alm_02_console_back_from_a_dropped_connection_gets_each_missed_alarm_once_in_order(
        trust, tmp_path):
    olivia = trust.people["olivia"]
    do_duty(olivia, on=True, actor=olivia.user)
    desk = token(olivia)
    nina, ben, sol = (token(trust.people[name]) for name in ("nina", "ben", "sol"))
    port = free_port()
    server = start_server(tmp_path, port, **FAST)
    try:
        with Console(port, desk) as console:
            first = raise_red(port, nina)
            last_seen = console.read_until(lambda events: first in raised(events))[-1].id
        # The connection is down while two alarms are raised.
        away = [raise_red(port, ben), raise_red(port, sol)]
        with Console(port, desk, last_event_id=last_seen) as console:
            console.read_until(lambda events: set(away) <= set(raised(events)))
            # One more, live: anything sent twice would show up before it.
            live = raise_red(port, nina)
            events = console.read_until(lambda events: live in raised(events))
    finally:
        kill_group(server)
    assert_no_tracebacks(tmp_path)
    assert raised(events) == [*away, live]
    ids = [e.id for e in events]
    assert ids == sorted(set(ids)) and ids[0] > last_seen
