"""ORG-05: the safety record is in the tamper-evident trail.

Every session and every alarm has a timeline that is a hash chain of its own, which
the database will not let anyone change or delete; `lonewatch audit verify` walks
them all and names the record and the line that was tampered with. Escalation starts
and steps, reminders, re-alerts, alarms raised by an escalation and sign-ins are audit
events. MOV-05: where the worker was is kept beside the timeline, and deleted when the
session ends, which the timeline records.
"""

import io
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction
from django.db.models.deletion import ProtectedError

from lonewatch import clock
from lonewatch.alarms import actions as alarm_actions
from lonewatch.alarms import timeline as alarm_timeline
from lonewatch.alarms.models import Alarm, AlarmEvent, AlarmPosition
from lonewatch.core import audit
from lonewatch.core.models import AuditEvent
from lonewatch.escalation import actions as engine
from lonewatch.escalation.policy import do_set_policy
from lonewatch.notify.actions import send_due
from lonewatch.visits import actions
from lonewatch.visits import timeline as session_timeline
from lonewatch.visits.models import Session, SessionEvent, SessionPosition
from tests.conftest import PASSWORD


@contextmanager
def triggers_off(table: str):
    """What someone with the database's owner rights would do first: switch off the
    table's triggers (undone at the end, and rolled back with the test either way)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The test's own writes leave foreign key checks pending, which ALTER refuses.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
            saved = []
        else:
            cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
                           "AND tbl_name = %s", [table])
            saved = cursor.fetchall()
            for name, _sql in saved:
                cursor.execute(f'DROP TRIGGER "{name}"')
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
                cursor.execute("SET CONSTRAINTS ALL DEFERRED")
            for _name, sql in saved:
                cursor.execute(sql)


def verify_command() -> tuple[bool, str]:
    """Run `lonewatch audit verify`: (intact, everything it wrote)."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("audit", "verify", stdout=out, stderr=err)
    except CommandError as error:
        return False, out.getvalue() + err.getvalue() + str(error)
    return True, out.getvalue() + err.getvalue()


@pytest.fixture
def busy_session(at, start_session, trust):
    """Nina's session through check-ins (one with a location), running late, a reminder,
    a missed deadline with its first two steps, and Ben handling it."""
    nina = trust.people["nina"]
    session = start_session(interval=600, lat=52.66, lon=0.16, accuracy_m=20)
    at(minutes=3)
    actions.do_check_in(session, actor=nina.user, lat=52.67, lon=0.17, accuracy_m=8)
    at(minutes=5)
    actions.do_extend(session, actor=nina.user, seconds=600, reason="parking")
    at(minutes=13)
    actions.send_reminders()
    at(minutes=15)
    engine.start_due()
    at(minutes=20)
    engine.fire_due()
    send_due()
    engine.do_acknowledge(session.escalations.get(), actor=trust.people["ben"].user)
    return session


def lines(session) -> list[SessionEvent]:
    return list(SessionEvent.objects.filter(session=session).order_by("seq"))


def test_org_05_every_line_of_a_session_is_one_link_of_its_own_chain(busy_session):
    found = lines(busy_session)
    kinds = [line.kind for line in found]
    for kind in ("started", "checked_in", "extended", "reminder", "deadline_missed",
                 "step_fired", "delivery", "acknowledged"):
        assert kind in kinds
    assert [line.seq for line in found] == list(range(1, len(found) + 1))
    assert found[0].prev_hash == "0" * 64
    assert all(b.prev_hash == a.hash for a, b in zip(found, found[1:], strict=False))
    assert session_timeline.TIMELINE.verify() == (len(found), 1, [])
    intact, said = verify_command()
    assert intact and f"{len(found)} lines on 1 session timelines" in said


@pytest.mark.parametrize("statement", [
    "UPDATE {table} SET summary = 'nothing happened' WHERE id = %s",
    "DELETE FROM {table} WHERE id = %s",
])
@pytest.mark.parametrize("table", ["visits_sessionevent", "alarms_alarmevent"])
def test_org_05_the_database_refuses_to_change_or_remove_a_timeline_line(busy_session, trust,
                                                                         table, statement):
    alarm_actions.do_raise(trust.people["nina"], actor=trust.people["nina"].user, kind="red")
    model = SessionEvent if table == "visits_sessionevent" else AlarmEvent
    line = model.objects.order_by("seq").first()
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement.format(table=table), [line.pk])
    with pytest.raises(DatabaseError), transaction.atomic():
        model.objects.filter(pk=line.pk).update(summary="nothing happened")
    with pytest.raises(DatabaseError), transaction.atomic():
        model.objects.filter(pk=line.pk).delete()
    assert model.objects.get(pk=line.pk).summary == line.summary


def test_org_05_a_session_or_alarm_with_a_timeline_is_never_deleted_by_a_cascade(busy_session,
                                                                                 trust):
    nina = trust.people["nina"]
    actions.do_end_session(busy_session, actor=nina.user, pin="2468")
    alarm = alarm_actions.do_raise(nina, actor=nina.user, kind="amber")
    for record in (Session.objects.get(pk=busy_session.pk), Alarm.objects.get(pk=alarm.pk)):
        with pytest.raises(ProtectedError), transaction.atomic():
            record.delete()
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM visits_sessionevent WHERE session_id = %s",
                       [busy_session.pk])
    assert SessionEvent.objects.filter(session=busy_session).count() == len(lines(busy_session))


def test_org_05_retention_can_purge_a_whole_timeline_only_through_its_permit(busy_session,
                                                                            trust):
    """The one narrow path: the timeline's purge, for one record, audited with the head it
    removed; the purge leaves the trail and every other timeline intact."""
    nina = trust.people["nina"]
    actions.do_end_session(busy_session, actor=nina.user, pin="2468")
    other = actions.do_start_session(
        nina, actor=nina.user, kind="visit", address="2 Elm Road", planned_start=clock.now(),
        planned_end=clock.now() + timedelta(hours=1), buddy=trust.people["ben"],
        interval_seconds=600)
    count = len(lines(busy_session))
    escalation_ids = list(busy_session.escalations.values_list("pk", flat=True))
    with transaction.atomic():
        head = session_timeline.TIMELINE.head(busy_session.pk)
        audit.record("session.timeline.purge", actor=None, obj=busy_session,
                     summary="Retention: the session's record is deleted", timeline=head)
        assert session_timeline.TIMELINE.purge(busy_session.pk) >= count
        busy_session.escalations.all().delete()
        Session.objects.filter(pk=busy_session.pk).delete()
    assert not SessionEvent.objects.filter(session_id=busy_session.pk).exists()
    assert SessionEvent.objects.filter(session=other).exists()
    assert escalation_ids and not Session.objects.filter(pk=busy_session.pk).exists()
    intact, said = verify_command()
    assert intact, said
    # The permit went with the transaction: nothing else can be deleted now.
    with pytest.raises(DatabaseError), transaction.atomic():
        SessionEvent.objects.filter(session=other).delete()


def test_org_05_verify_names_the_session_and_line_that_was_edited(busy_session):
    victim = lines(busy_session)[3]
    with triggers_off("visits_sessionevent"), connection.cursor() as cursor:
        cursor.execute("UPDATE visits_sessionevent SET summary = 'Checked in' WHERE id = %s",
                       [victim.pk])
        intact, said = verify_command()
    assert not intact
    assert (f"TAMPERED: session {busy_session.pk} timeline, line #{victim.pk} (seq 4): "
            "contents were altered") in said
    assert "NOT intact: 1 problem(s)" in said


def test_org_05_verify_finds_a_forged_link_and_a_line_deleted_from_the_middle(busy_session):
    found = lines(busy_session)
    with triggers_off("visits_sessionevent"), connection.cursor() as cursor:
        # A forger who rewrites a line and its own hash still breaks the next link.
        cursor.execute("UPDATE visits_sessionevent SET summary = 'forged', hash = %s "
                       "WHERE id = %s", ["f" * 64, found[1].pk])
        cursor.execute("DELETE FROM visits_sessionevent WHERE id = %s", [found[4].pk])
        _lines, _records, problems = session_timeline.TIMELINE.verify()
    assert [(p.record_id, p.seq, p.line_id, p.message.split(" (")[0]) for p in problems] == [
        (busy_session.pk, 2, found[1].pk, "contents were altered after it was written"),
        (busy_session.pk, 3, found[2].pk, "does not follow the line before it"),
        (busy_session.pk, 5, None, "lines 5 to 5 are missing"),
    ]
    assert problems[2].message.endswith(f"before line #{found[5].pk}")


def test_org_05_a_deleted_tail_is_found_by_the_audit_event_that_anchored_it(busy_session,
                                                                           trust):
    """The chain alone cannot show that its newest lines went; the check-out's audit
    event recorded the last line, so verify can."""
    actions.do_end_session(busy_session, actor=trust.people["nina"].user, pin="2468")
    end = AuditEvent.objects.get(action="session.end")
    last = lines(busy_session)[-1]
    assert end.changes["timeline"] == {"timeline": "session", "record": busy_session.pk,
                                       "seq": last.seq, "hash": last.hash}
    assert verify_command()[0]
    with triggers_off("visits_sessionevent"), connection.cursor() as cursor:
        cursor.execute("DELETE FROM visits_sessionevent WHERE id = %s", [last.pk])
        intact, said = verify_command()
    assert not intact
    assert (f"session {busy_session.pk} timeline (seq {last.seq}): line {last.seq}, recorded "
            f"by audit event #{end.pk}, is missing") in said


def test_org_05_a_session_deleted_whole_is_found_by_the_anchor_of_its_start(start_session,
                                                                             trust):
    session = start_session(interval=600, lat=52.6, lon=0.1)
    actions.do_check_in(session, actor=trust.people["nina"].user)
    start = AuditEvent.objects.get(action="session.start", object_id=str(session.pk))
    assert start.changes["timeline"]["seq"] == 1
    with triggers_off("visits_sessionevent"), connection.cursor() as cursor:
        cursor.execute("DELETE FROM visits_sessionposition WHERE event_id IN "
                       "(SELECT id FROM visits_sessionevent WHERE session_id = %s)",
                       [session.pk])
        cursor.execute("DELETE FROM visits_sessionevent WHERE session_id = %s", [session.pk])
        cursor.execute("DELETE FROM visits_session WHERE id = %s", [session.pk])
        intact, said = verify_command()
    assert not intact
    assert (f"session {session.pk} timeline (seq 1): line 1, recorded by audit event "
            f"#{start.pk}, is missing") in said


def test_org_05_an_alarm_timeline_is_chained_and_its_tampering_named(trust, nina_ready):
    nina, olivia = nina_ready, trust.people["olivia"]
    alarm = alarm_actions.do_raise(nina, actor=nina.user, kind="red", lat=52.6, lon=0.2)
    alarm_actions.do_add_location(alarm, actor=nina.user, lat=52.61, lon=0.21, accuracy_m=5)
    alarm_actions.do_acknowledge(alarm, actor=olivia.user)
    alarm_actions.do_close(alarm, actor=olivia.user, category="genuine")
    found = list(AlarmEvent.objects.filter(alarm=alarm).order_by("seq"))
    assert [line.kind for line in found[:4]] == ["raised", "location", "acknowledged", "closed"]
    assert [line.seq for line in found] == list(range(1, len(found) + 1))
    assert [(p.lat, p.event_id) for p in AlarmPosition.objects.order_by("pk")] == [
        (52.6, found[0].pk), (52.61, found[1].pk)]
    assert found[1].lat == 52.61 and found[2].lat is None
    assert alarm_timeline.TIMELINE.verify() == (len(found), 1, [])
    with triggers_off("alarms_alarmevent"), connection.cursor() as cursor:
        cursor.execute("UPDATE alarms_alarmevent SET actor_id = NULL WHERE id = %s",
                       [found[2].pk])
        intact, said = verify_command()
    assert not intact
    assert f"alarm {alarm.pk} timeline, line #{found[2].pk} (seq 3): contents were" in said


def test_org_05_escalation_start_and_steps_are_audit_events_from_the_bulk_path(at,
                                                                               start_session):
    session = start_session(interval=600)
    actions.do_check_in(session, actor=session.worker.user)
    at(minutes=10)
    engine.start_due()
    escalation = session.escalations.get()
    start = AuditEvent.objects.get(action="escalation.start")
    assert (start.object_type, start.object_id) == ("escalation.escalation", str(escalation.pk))
    assert start.chain == audit.WORKER_CHAIN and start.actor_label == "system"
    # The start anchors the session's timeline: its check-ins and the missed deadline.
    anchored = SessionEvent.objects.get(session=session, seq=start.changes["timeline"]["seq"])
    assert anchored.hash == start.changes["timeline"]["hash"] and anchored.kind == "step_fired"
    # The first step, to the worker, fired with the start: the start's event records it.
    assert [(s["step"], s["target"]) for s in start.changes["after"]["steps"]] == [
        (1, "worker")]
    assert "Step 1: The worker told (Nina)" in start.summary
    at(minutes=15)
    engine.fire_due()
    step = AuditEvent.objects.get(action="escalation.step")
    assert (step.changes["after"]["step"], step.changes["after"]["target"]) == (2, "buddy")
    assert step.object_id == str(escalation.pk) and "Ben" in step.summary
    checked, problems = audit.verify()
    assert problems == [] and checked == AuditEvent.objects.count()


def test_org_05_reminders_and_re_alerts_are_audit_events(at, start_session, trust, nina_ready):
    session = start_session(interval=600)
    at(minutes=8)
    actions.send_reminders()
    reminder = AuditEvent.objects.get(action="session.reminder")
    assert reminder.object_id == str(session.pk) and "Nina" in reminder.summary
    alarm = alarm_actions.do_raise(nina_ready, actor=nina_ready.user, kind="red")
    at(minutes=20)
    alarm_actions.realert_due()
    realert = AuditEvent.objects.get(action="alarm.realert")
    assert (realert.object_id, realert.changes["after"]["realert"]) == (str(alarm.pk), 1)
    assert audit.verify()[1] == []


def test_org_05_an_alarm_raised_by_an_escalation_step_is_an_audit_event(trust, start_session,
                                                                        time_machine):
    do_set_policy(trust.north, [{"after_seconds": 0, "notify": "alarm_centre",
                                 "channels": ["in_app"]}], actor=None)
    session = start_session(interval=900)
    time_machine.move_to(clock.now() + timedelta(minutes=16), tick=False)
    engine.start_due()
    engine.fire_due()
    alarm = Alarm.objects.get()
    raised = AuditEvent.objects.get(action="alarm.red")
    assert raised.object_id == str(alarm.pk) and raised.actor_label == "system"
    assert raised.changes["after"] == {"escalation": session.escalations.get().pk,
                                       "session": session.pk}


def test_org_05_sign_ins_failures_and_lockouts_are_audited_without_passwords(trust, client,
                                                                            settings):
    client.post("/login", {"username": "nina", "password": PASSWORD})
    client.post("/logout")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/login", {"username": "nina", "password": "wrong-horse"})
    client.post("/login", {"username": "nina-typed-her-password", "password": "x"})
    nina = trust.people["nina"].user
    signed_in = AuditEvent.objects.get(action="sign_in")
    assert (signed_in.actor, signed_in.object_id) == (nina, str(nina.pk))
    failed = AuditEvent.objects.filter(action="sign_in.failed").order_by("at", "id")
    assert [e.object_id for e in failed] == [str(nina.pk)] * settings.AXES_FAILURE_LIMIT + [""]
    assert failed.first().actor_label == "anonymous"
    locked = AuditEvent.objects.filter(action="sign_in.locked_out")
    assert locked.exists() and locked.first().object_id == str(nina.pk)
    trail = str(list(AuditEvent.objects.values()))
    for secret in (PASSWORD, "wrong-horse", "nina-typed-her-password"):
        assert secret not in trail


def test_mov_05_positions_are_deleted_when_the_session_ends_and_the_timeline_says_so(
        busy_session, trust, client):
    from tests.conftest import token_for

    nina = trust.people["nina"]
    located = lines(busy_session)[:2]
    assert [(p.event_id, p.lat) for p in SessionPosition.objects.order_by("pk")] == [
        (located[0].pk, 52.66), (located[1].pk, 52.67)]
    answer = client.get(f"/api/v1/sessions/{busy_session.pk}",
                        headers={"Authorization": f"Bearer {token_for(nina)}"}).json()
    assert [(e["kind"], e["lat"], e["accuracy_m"]) for e in answer["timeline"][:2]] == [
        ("started", 52.66, 20), ("checked_in", 52.67, 8)]
    before = [(line.pk, line.hash) for line in lines(busy_session)]
    actions.do_end_session(busy_session, actor=nina.user, pin="2468")
    assert not SessionPosition.objects.exists()
    after = lines(busy_session)
    # Nothing already written was touched; the purge is a line of its own.
    assert [(line.pk, line.hash) for line in after[:len(before)]] == before
    purged = SessionEvent.objects.get(session=busy_session, kind="positions_purged")
    assert purged.data == {"positions": 2, "lines": [1, 2], "why": purged.data["why"]}
    assert "MOV-05" in purged.data["why"] and purged.actor == nina.user
    assert session_timeline.TIMELINE.verify()[2] == []


@pytest.mark.django_db(transaction=True)
def test_org_05_the_migration_chains_existing_lines_and_moves_their_positions(trust):
    """Timelines written before the chains existed: each gets its chain, in time order,
    and a location that was on a line moves to a position of its own (MOV-05)."""
    from django.db.migrations.executor import MigrationExecutor

    before = [("visits", "0002_alter_sessionevent_kind"),
              ("alarms", "0004_audiochunk_starts_take")]
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    nina, ben = trust.people["nina"], trust.people["ben"]
    now = clock.now()
    session = old.get_model("visits", "Session").objects.create(
        worker_id=nina.pk, buddy_id=ben.pk, kind="visit", address="1 High Street",
        planned_start=now, planned_end=now + timedelta(hours=1), interval_seconds=600,
        started_at=now, last_contact_at=now)
    old_line = old.get_model("visits", "SessionEvent").objects.create
    old_line(session_id=session.pk, at=now + timedelta(minutes=2), kind="checked_in",
             actor_id=nina.user.pk, summary="Checked in", lat=52.6, lon=0.1, accuracy_m=7,
             data={"due_at": "2026-11-23T09:12:00.000000+00:00"})
    old_line(session_id=session.pk, at=now, kind="started", summary="Visit started")
    alarm = old.get_model("alarms", "Alarm").objects.create(
        organisation_id=nina.organisation_id, worker_id=nina.pk, kind="red", state="raised",
        raised_at=now)
    old.get_model("alarms", "AlarmEvent").objects.create(
        alarm_id=alarm.pk, at=now, kind="location", summary="Location update", lat=51.5,
        lon=-0.1)
    executor = MigrationExecutor(connection)
    executor.migrate(latest)

    started, checked_in = lines(session.pk)
    assert (started.kind, started.seq, checked_in.seq) == ("started", 1, 2)
    assert checked_in.prev_hash == started.hash and checked_in.lat == 52.6
    assert SessionPosition.objects.get().accuracy_m == 7
    assert AlarmEvent.objects.get(alarm_id=alarm.pk).lat == 51.5
    intact, said = verify_command()
    assert intact and "2 lines on 1 session timelines, 1 lines on 1 alarm timelines" in said
    with pytest.raises(DatabaseError), transaction.atomic():
        SessionEvent.objects.filter(pk=started.pk).update(summary="changed")


@pytest.mark.django_db(transaction=True)
def test_org_05_a_check_in_racing_another_line_of_its_session_takes_the_next_place(
        start_session, trust):
    """PostgreSQL's one-statement check-in reads the session's last line in its snapshot.
    A line committed after that snapshot, while the check-in waited for the session's
    lock, must not be chained twice: the statement is tried again and comes after it."""
    import threading
    import time

    from lonewatch.accounts.actions import PresentedToken, do_create_token
    from lonewatch.visits.actions import _check_in_in_one_statement

    if connection.vendor != "postgresql":
        pytest.skip("the one-statement check-in is PostgreSQL's")
    nina = trust.people["nina"]
    session = start_session(interval=600)
    token = do_create_token(nina.user, name="phone", actor=nina.user)[1]
    holding, release, answer = threading.Event(), threading.Event(), {}

    def other_writer():
        try:
            with transaction.atomic():
                session_timeline.append(session, at=clock.now(), kind="reminder",
                                        summary="Reminder sent")
                holding.set()
                release.wait(10)
        finally:
            connection.close()

    def check_in():
        try:
            # The statement itself, not the function around it: no ordinary path to
            # fall back on, so the retry is what must place the line after the other.
            done = _check_in_in_one_statement(PresentedToken(token), session.pk,
                                              position=None, now=clock.now(), note="racing")
            answer["due_at"] = done.due_at if done else None
        finally:
            connection.close()

    writer = threading.Thread(target=other_writer)
    writer.start()
    assert holding.wait(10)
    checker = threading.Thread(target=check_in)
    checker.start()
    waiting = 0
    for _ in range(200):  # until the check-in's statement, snapshot taken, waits for the lock
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = "
                           "'Lock' AND datname = current_database()")
            waiting = cursor.fetchone()[0]
        if waiting:
            break
        time.sleep(0.05)
    release.set()
    writer.join(10)
    checker.join(10)
    assert waiting and answer["due_at"] is not None
    assert [(line.seq, line.kind) for line in lines(session)] == [
        (1, "started"), (2, "reminder"), (3, "checked_in")]
    assert session_timeline.TIMELINE.verify()[2] == []
