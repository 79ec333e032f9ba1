"""ALM-02 / Q-PERF: one alarm event hub per server process feeds every open stream.

The hub reads committed rows from its own thread, and each stream here runs in a thread
of its own as it would in the server, so these tests use transactional_db. Nothing
waits on a sleep: each wait is for a condition, with a timeout that fails the test.
"""

import http.client
import json
import os
import queue
import re
import socket
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from lonewatch import clock
from lonewatch.accounts.models import User
from lonewatch.alarms import actions, stream, timeline
from lonewatch.alarms import hub as hubs
from lonewatch.alarms.models import Alarm, AlarmEvent
from lonewatch.core import permissions as perms
from lonewatch.org.models import Organisation, Person
from lonewatch.org.roles import Role, Scope
from lonewatch.visits.models import Session
from tests import private_postgres
from tests.processes import stop, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 10


class Console(threading.Thread):
    """An open event stream, read in a thread of its own as a server thread serves it.

    Every chunk comes with the number of queries the stream's thread had run by then.
    """

    def __init__(self, person, last_event_id=None):
        super().__init__(daemon=True)
        self.stream = stream.events(person.user, last_event_id, seconds=60)
        self.chunks: queue.Queue = queue.Queue()

    def run(self):
        try:
            with CaptureQueriesContext(connection) as queries:
                for chunk in self.stream:
                    self.chunks.put((chunk, len(queries.captured_queries)))
        finally:
            self.chunks.put((None, None))
            connection.close()

    def read_until(self, done) -> tuple[list[str], int]:
        """The chunks up to the first for which ``done`` holds, and the query count then."""
        chunks, deadline = [], time.monotonic() + TIMEOUT
        while True:
            try:
                chunk, queries = self.chunks.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"nothing like that within {TIMEOUT} s: {chunks}") from None
            if chunk is None:
                raise AssertionError(f"the stream ended: {chunks}")
            chunks.append(chunk)
            if done(chunk):
                return chunks, queries


def event_ids(chunks) -> list[int]:
    return [int(i) for i in re.findall(r"^id: (\d+)$", "".join(chunks), re.MULTILINE)]


def alarm_ids(chunks) -> list[int]:
    return [int(i) for i in re.findall(r'^data: \{"id": (\d+),', "".join(chunks),
                                       re.MULTILINE)]


def heartbeat(chunk) -> bool:
    return chunk == ":\n\n"


@pytest.fixture
def open_console(settings):
    settings.ALARM_STREAM_POLL_SECONDS = 0.01
    opened = []

    def _open(person, last_event_id=None) -> Console:
        console = Console(person, last_event_id)
        console.start()
        opened.append(console)
        # The first bytes fix where a new console starts (now).
        assert console.read_until(lambda chunk: chunk == "retry: 1000\n\n")
        return console

    yield _open
    hubs.stop()  # waiting streams end with their hub
    for console in opened:
        console.join(TIMEOUT)
        assert not console.is_alive()


def red(person) -> Alarm:
    return actions.do_raise(person, actor=person.user, kind=Alarm.Kind.RED)


def test_alm_02_one_hub_brings_each_alarm_to_every_open_console_without_a_query_each(
        trust, open_console):
    consoles = [open_console(trust.people["olivia"]), open_console(trust.people["leslie"])]
    before = [console.read_until(heartbeat)[1] for console in consoles]
    alarms = [red(trust.people[name]) for name in ("nina", "sol", "otto")]
    for console, queries in zip(consoles, before, strict=True):
        chunks, after = console.read_until(lambda chunk: f'"id": {alarms[-1].pk},' in chunk)
        assert alarm_ids(chunks) == [a.pk for a in alarms]  # each once, in order
        # The alarm centre and the security manager see the whole organisation: once
        # the stream waits, an event costs its thread no query at all.
        assert after == queries
    assert hubs.current() is hubs.current()  # one hub for the process


def test_alm_02_a_console_away_longer_than_the_buffer_gets_every_missed_event_once(
        trust, open_console, monkeypatch):
    monkeypatch.setattr(hubs, "BUFFER", 4)
    monkeypatch.setattr(stream, "BATCH", 3)  # the database is read in several batches
    olivia, nina = trust.people["olivia"], trust.people["nina"]
    hub = hubs.current()
    first = red(nina)
    seen = AlarmEvent.objects.get(alarm=first).pk  # the console's last event before it left
    for _ in range(4):
        actions.do_acknowledge(red(nina), actor=olivia.user)
    last = AlarmEvent.objects.order_by("pk").last().pk
    deadline = time.monotonic() + TIMEOUT
    while (hub.floor or 0) < last and time.monotonic() < deadline:
        hub.wait(last - 1, timeout=deadline - time.monotonic())
    assert hub.floor >= last and hub.base > seen  # the buffer no longer reaches back

    console = open_console(olivia, last_event_id=str(seen))
    chunks, _ = console.read_until(lambda chunk: f"id: {last}\n" in chunk)
    live = red(nina)
    chunks += console.read_until(lambda chunk: f'"id": {live.pk},' in chunk)[0]
    missed = list(AlarmEvent.objects.filter(pk__gt=seen).order_by("pk")
                  .values_list("pk", flat=True))
    assert event_ids(chunks) == missed  # the database, then the hub: no gap, no repeat
    assert missed[-1] == AlarmEvent.objects.get(alarm=live).pk


class Rollback(Exception):
    pass


def slow_event(alarm, *, commit: bool):
    """Add an event to ``alarm`` in a transaction held open until ``go`` is set (it holds
    the alarm's lock, as every writer of its timeline does, until then)."""
    inserted, go, ids = threading.Event(), threading.Event(), []

    def run():
        try:
            with transaction.atomic():
                ids.append(timeline.append(alarm, at=clock.now(), kind="note",
                                           summary="slow").pk)
                inserted.set()
                go.wait(TIMEOUT)
                if not commit:
                    raise Rollback
        except Rollback:
            pass
        finally:
            connection.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert inserted.wait(TIMEOUT)
    return ids[0], go, thread


def test_alm_02_an_event_committing_late_is_not_skipped_and_a_rolled_back_one_holds_up_nothing(
        trust, open_console, monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite commits one writer at a time: ids always commit in order")
    # Only the check for open transactions may pass a hole, never the backstop.
    monkeypatch.setattr(hubs, "GAP_SECONDS", 3600)
    console = open_console(trust.people["olivia"])
    hub = hubs.current()
    alarm = red(trust.people["nina"])
    # Another alarm's line can commit before a line of the first: each alarm's timeline is
    # written under its own lock.
    other = red(trust.people["ben"])
    console.read_until(lambda chunk: f'"id": {other.pk},' in chunk)

    def after_the_hub_reads(pk):
        wait_for(lambda: hub._read_upto >= pk, timeout=TIMEOUT, what=f"the hub to read {pk}",
                 every=0.01)

    for commit in (True, False):
        slow, go, thread = slow_event(alarm, commit=commit)
        with transaction.atomic():
            quick = timeline.append(other, at=clock.now(), kind="note", summary="quick").pk
        assert slow < quick
        after_the_hub_reads(quick)  # seen, and held back behind the open transaction
        assert hub.floor < slow
        go.set()
        thread.join(TIMEOUT)
        chunks, _ = console.read_until(lambda chunk, pk=quick: f"id: {pk}\n" in chunk)
        assert event_ids(chunks) == ([slow, quick] if commit else [quick])


def test_alm_02_someone_outside_an_alarms_reach_hears_nothing_of_it(trust, open_console):
    marcus, maria = open_console(trust.people["marcus"]), open_console(trust.people["maria"])
    ninas = red(trust.people["nina"])  # Maria's team; not Marcus's
    ottos = red(trust.people["otto"])  # Marcus's team; not Maria's
    sols = red(trust.people["sol"])  # Maria's line report in another team; not Marcus's
    # Events arrive in order, so what came before the last one was seen and left out.
    heard = marcus.read_until(lambda chunk: f'"id": {ottos.pk},' in chunk)[0]
    assert alarm_ids(heard) == [ottos.pk]
    heard = maria.read_until(lambda chunk: f'"id": {sols.pk},' in chunk)[0]
    assert alarm_ids(heard) == [ninas.pk, sols.pk]


def test_mov_04_a_workers_own_alarms_never_reach_their_stream(trust, open_console):
    """The stream is the alarm centre's: after a duress PIN it would carry what the phone
    must not show. A worker hears nothing of their own alarms, whichever PIN they use."""
    otto, marcus = open_console(trust.people["otto"]), open_console(trust.people["marcus"])
    ottos = red(trust.people["otto"])
    marcus.read_until(lambda chunk: f'"id": {ottos.pk},' in chunk)
    heard = otto.read_until(heartbeat)[0]
    assert alarm_ids(heard) == []


# ORG-02: the stream's in-memory check agrees with the one query every list uses.
EXPECTED_ALARMS = {
    "olivia": {"nina", "ben", "sol", "otto", "maria"},  # the alarm centre: everyone here
    "leslie": {"nina", "ben", "sol", "otto", "maria"},
    "maria": {"nina", "ben", "sol", "maria"},  # her team, and Sol who reports to her
    "sarah": {"nina", "ben", "sol", "maria"},  # her directorate
    "marcus": {"otto"},
    "ben": {"ben", "otto"},  # his own, and Otto's raised on the visit Ben watches
    "nina": {"nina"},
    "otto": {"otto"},
    "claire": set(), "adam": set(), "jo": set(), "anita": set(),
}


@pytest.mark.django_db
def test_org_02_alarm_visibility_decided_in_memory_matches_filter_visible(
        trust, django_assert_num_queries):
    now = clock.now()
    visit = Session.objects.create(
        worker=trust.people["otto"], kind="visit", address="1 High Street",
        planned_start=now, planned_end=now + timedelta(hours=1), buddy=trust.people["ben"],
        interval_seconds=600, started_at=now, last_contact_at=now,
        due_at=now + timedelta(minutes=10))
    elsewhere = Organisation.objects.create(name="Another Trust")
    stranger = Person.objects.create(user=User.objects.create(username="stranger"),
                                     organisation=elsewhere, full_name="Stranger")
    alarms = {}
    for worker in [*(trust.people[n] for n in ("nina", "ben", "sol", "otto", "maria")),
                   stranger]:
        alarms[worker.user.username] = Alarm.objects.create(
            organisation=worker.organisation, worker=worker, kind="red", state="raised",
            raised_at=now, session=visit if worker == visit.worker else None)
    loaded = Alarm.objects.select_related("worker__team").filter(
        pk__in=[a.pk for a in alarms.values()])
    reaches = {alarm.pk: perms.reach_of(alarm) for alarm in loaded}
    for name, expected in EXPECTED_ALARMS.items():
        user = User.objects.get(username=name)
        listed = set(perms.filter_visible(user, Alarm.objects.all()).values_list("pk",
                                                                                  flat=True))
        assert listed == {alarms[n].pk for n in expected}, name
        # Memberships are loaded by now, as a stream loads them when it opens.
        organisation_wide = name in ("olivia", "leslie")
        with django_assert_num_queries(0 if organisation_wide else 1):
            assert perms.visible_ids(user, Alarm, reaches) == listed, name


@pytest.mark.django_db
def test_org_02_an_own_record_scope_reaches_only_alarms_about_the_person(trust):
    owen = trust.person("owen", trust.north, [(Role.ALARM_OPERATOR, Scope.OWN)])
    nina = trust.people["nina"]
    # An alarm whose own id is Owen's: a scope must follow the worker, not the id.
    alarm = Alarm.objects.create(pk=owen.pk, organisation=trust.org, worker=nina, kind="red",
                                 state="raised", raised_at=clock.now())
    assert not perms.filter_visible(owen.user, Alarm.objects.all()).exists()
    assert perms.visible_ids(owen.user, Alarm, {alarm.pk: perms.reach_of(alarm)}) == set()


SEED = r"""
import django
django.setup()
from lonewatch.accounts.actions import do_create_token
from lonewatch.accounts.models import User
from lonewatch.org.models import Organisation, Person, RoleMembership
from lonewatch.org.roles import Role, Scope

org = Organisation.objects.create(name="Restart Trust")
for name, role in (("operator", Role.ALARM_OPERATOR), ("worker", Role.LONE_WORKER)):
    p = Person.objects.create(user=User.objects.create(username=name, password="!"),
                              organisation=org, full_name=name.title())
    RoleMembership.objects.create(person=p, role=role,
                                  scope=Scope.ORGANISATION if name == "operator" else Scope.OWN)
    print(do_create_token(p.user, name="t", actor=None, privileged=name == "operator")[1])
"""


@pytest.mark.slow
@pytest.mark.skipif(not private_postgres.available(), reason="PostgreSQL binaries not found")
def test_alm_02_console_hears_alarms_again_after_postgresql_restarts(tmp_path):
    """Q-REL: the hub's listening connection dies with the database; it reconnects, and
    the console that stayed connected hears the next alarm on the same stream."""
    with private_postgres.PrivateCluster() as cluster:
        env = {**os.environ, "DATABASE_URL": cluster.url, "LONEWATCH_DATA_DIR": str(tmp_path),
               "LONEWATCH_LOG_LEVEL": "warning", "DJANGO_SETTINGS_MODULE": "lonewatch.settings"}
        subprocess.run([sys.executable, "-m", "lonewatch", "migrate", "-v0"], env=env,
                       check=True, timeout=120)
        operator, worker = subprocess.run([sys.executable, "-c", SEED], env=env, check=True,
                                          timeout=60, capture_output=True,
                                          text=True).stdout.split()
        with socket.socket() as spare:
            spare.bind(("127.0.0.1", 0))
            port = spare.getsockname()[1]
        log = tmp_path / "server.log"
        with log.open("wb") as out:
            server = subprocess.Popen(
                [sys.executable, "-m", "lonewatch", "serve", "--port", str(port),
                 "--workers", "1", "--threads", "4"], env=env, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True)

        def post_red() -> int:
            phone = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            phone.request("POST", "/api/v1/alarms", body="{}", headers={
                "Authorization": f"Bearer {worker}", "Content-Type": "application/json"})
            answer = phone.getresponse()
            assert answer.status == 201, answer.read()
            return json.loads(answer.read())["id"]

        def answers() -> bool:
            try:
                probe = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                probe.request("GET", "/healthz")
                probe.getresponse().read()
            except OSError:
                return False
            return True

        try:
            wait_for(answers, timeout=60, what="the server to answer")
            console = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            console.request("GET", "/api/v1/alarms/events",
                            headers={"Authorization": f"Bearer {operator}"})
            events = console.getresponse()
            assert events.readline() == b"retry: 1000\n"

            def hear(alarm_id: int) -> None:
                while (line := events.readline()) and not line.startswith(
                        f'data: {{"id": {alarm_id},'.encode()):
                    pass
                assert line, "the stream ended"

            hear(post_red())
            cluster.restart()  # the hub's connections are cut
            hear(post_red())  # the same stream, after the hub reconnected
            console.close()
        finally:
            stop(server)
        assert "alarm event hub lost the database" in log.read_text()
