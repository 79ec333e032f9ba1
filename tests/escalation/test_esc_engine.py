"""ESC-01 … ESC-03, MOV-02, MOV-03: the escalation engine against a controllable clock.

The worker's phases are called as plain functions; time only moves when a test
moves it.
"""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied

from lonewatch import clock
from lonewatch.escalation import actions as engine
from lonewatch.escalation.models import Escalation
from lonewatch.escalation.policy import do_set_policy
from lonewatch.notify.actions import send_due
from lonewatch.notify.models import Delivery
from lonewatch.org import pins
from lonewatch.visits import actions
from lonewatch.visits.actions import SessionError
from lonewatch.visits.models import Session, SessionEvent, SessionPosition


def tick() -> None:
    actions.send_reminders()
    engine.start_due()
    engine.fire_due()
    send_due()


def told(session) -> list[tuple[str, str]]:
    """(recipient username, channel) of every escalation delivery so far, in order."""
    return [(d.recipient.username if d.recipient else d.address, d.channel)
            for d in Delivery.objects.filter(about_kind="escalation",
                                             about_id__in=session.escalations.values("pk"),
                                             purpose__startswith="escalation_step")
            .order_by("id")]


def recipients(session) -> list[str]:
    return list(dict.fromkeys(name for name, _ in told(session)))


def test_esc_01_default_policy_tells_each_person_on_time(at, start_session, trust):
    session = start_session(interval=600)
    at(minutes=9, seconds=59)
    tick()
    assert not Escalation.objects.exists()
    at(minutes=10)
    tick()
    escalation = Escalation.objects.get()
    assert escalation.missed_at == session.due_at
    assert recipients(session) == ["nina"]  # the reminder to the worker at the deadline
    at(minutes=14, seconds=59)
    tick()
    assert recipients(session) == ["nina"]
    at(minutes=15)
    tick()
    assert recipients(session) == ["nina", "ben"]  # buddy at +5 min
    at(minutes=25)
    tick()
    assert recipients(session) == ["nina", "ben", "maria"]  # line manager at +15
    at(minutes=40)
    tick()
    assert recipients(session) == ["nina", "ben", "maria", "sarah"]  # senior manager at +30
    at(minutes=55)
    tick()
    police = Delivery.objects.filter(purpose="escalation_step_5")
    assert {d.recipient.username for d in police} == {"maria", "sarah"}
    assert "call 999" in police.first().body and "locate" in police.first().body
    escalation.refresh_from_db()
    assert escalation.next_step == 5 and escalation.next_step_at is None


def test_esc_01_messages_say_who_where_since_when_and_link(at, start_session, trust):
    session = start_session(interval=600)
    at(minutes=15)
    tick()
    message = Delivery.objects.filter(recipient=trust.people["ben"], channel="sms").get()
    assert "Nina missed the check-in due at 09:10" in message.body
    assert "12 Acacia Avenue" in message.body and "PE13 1AB" in message.body
    assert "You are their buddy" in message.body
    assert message.link.endswith(f"/escalations/{session.escalations.get().pk}/")
    assert message.address == "+447700900100"


def test_esc_02_acknowledge_stops_further_steps_to_others(at, start_session, trust):
    session = start_session(interval=600)
    at(minutes=15)
    tick()
    escalation = Escalation.objects.get()
    at(minutes=16)
    engine.do_acknowledge(escalation, actor=trust.people["ben"].user)
    at(minutes=60)
    tick()
    assert recipients(session) == ["nina", "ben"]
    escalation.refresh_from_db()
    assert escalation.acknowledged_by == trust.people["ben"].user
    assert escalation.acknowledged_at == clock.now() - timedelta(minutes=44)
    with pytest.raises(engine.EscalationConflict, match="Ben is already handling"):
        engine.do_acknowledge(escalation, actor=trust.people["maria"].user)


def test_esc_02_resolve_records_who_when_and_outcome(at, start_session, trust):
    session = start_session(interval=600)
    at(minutes=20)
    tick()
    escalation = Escalation.objects.get()
    engine.do_resolve(escalation, outcome="worker_safe", note="Phoned her: battery died",
                      actor=trust.people["maria"].user)
    escalation.refresh_from_db()
    assert (escalation.state, escalation.outcome) == ("resolved", "worker_safe")
    assert escalation.resolved_by == trust.people["maria"].user
    assert escalation.resolved_at == clock.now()
    session.refresh_from_db()
    # Worker safe: monitoring goes on with a fresh deadline.
    assert session.state == "active" and session.due_at == clock.now() + timedelta(minutes=10)
    assert SessionEvent.objects.filter(session=session, kind="resolved",
                                       summary__contains="battery died").exists()
    with pytest.raises(engine.EscalationConflict):
        engine.do_resolve(escalation, outcome="worker_safe", actor=trust.people["maria"].user)
    with pytest.raises(ValueError, match="outcome must be one of"):
        engine.do_resolve(escalation, outcome="shrug", actor=trust.people["maria"].user)


def test_esc_02_forgot_to_check_out_ends_the_session(at, start_session, trust):
    session = start_session(interval=600)
    at(minutes=20)
    tick()
    engine.do_resolve(Escalation.objects.get(), outcome="forgot_to_check_out",
                      actor=trust.people["ben"].user)
    session.refresh_from_db()
    assert session.state == "ended" and session.due_at is None


def test_esc_02_late_check_in_resolves_it_as_checked_in_late(at, start_session, trust):
    session = start_session(interval=600)
    at(minutes=16)
    tick()
    actions.do_check_in(session, actor=trust.people["nina"].user)
    escalation = Escalation.objects.get()
    assert (escalation.state, escalation.outcome) == ("resolved", "worker_checked_in_late")
    assert escalation.resolved_by == trust.people["nina"].user
    session.refresh_from_db()
    assert session.state == "active" and session.due_at == clock.now() + timedelta(minutes=10)
    at(minutes=30)
    tick()
    assert recipients(session) == ["nina", "ben"]  # nothing more fired after the check-in


def test_esc_03_running_escalation_keeps_its_frozen_policy(at, start_session, trust):
    session = start_session(interval=600)
    at(minutes=10)
    tick()
    do_set_policy(trust.north, [{"after_seconds": 0, "notify": "line_manager",
                                 "channels": ["email"]}], actor=trust.people["maria"].user)
    at(minutes=15)
    tick()
    assert recipients(session) == ["nina", "ben"]  # the old policy's buddy step still fired


def test_esc_01_team_policy_applies_to_new_escalations(at, start_session, trust):
    do_set_policy(trust.north, [{"after_seconds": 60, "notify": "line_manager",
                                 "channels": ["email", "in_app"]}],
                  actor=trust.people["maria"].user)
    session = start_session(interval=600)
    at(minutes=10, seconds=59)
    tick()
    assert told(session) == []
    at(minutes=11)
    tick()
    assert told(session) == [("maria", "email"), ("maria", "in_app")]


def test_esc_03_a_step_fires_once_however_often_the_scanner_runs(at, start_session, trust):
    session = start_session(interval=600)
    at(minutes=15)
    for _ in range(3):
        tick()
    assert len(told(session)) == len(set(told(session)))
    assert SessionEvent.objects.filter(session=session, kind="step_fired").count() == 2


def test_esc_03_a_step_held_up_fires_late_and_says_so(at, start_session, trust, settings):
    settings.WATCHDOG_GRACE_SECONDS = 30
    session = start_session(interval=600)
    at(minutes=10)
    tick()
    at(minutes=17)  # the worker was down from +0 to +7 minutes
    tick()
    assert recipients(session) == ["nina", "ben"]
    watchdog = SessionEvent.objects.get(session=session, kind="watchdog")
    assert "Step 2 fired 120 s late" in watchdog.summary


def test_mov_02_check_in_moves_the_deadline_one_interval_on(at, start_session, trust):
    session = start_session(interval=600)
    at(minutes=7)
    actions.do_check_in(session, actor=trust.people["nina"].user, lat=52.66, lon=0.16,
                        accuracy_m=12, note="At the door")
    session.refresh_from_db()
    assert session.due_at == clock.now() + timedelta(minutes=10)
    assert (session.last_lat, session.last_lon, session.last_accuracy_m) == (52.66, 0.16, 12)
    at(minutes=16)
    tick()
    assert not Escalation.objects.exists()


def test_mov_02_running_late_extends_with_a_reason(at, start_session, trust):
    session = start_session(interval=600, hours=1)
    at(minutes=5)
    with pytest.raises(SessionError, match="Say why"):
        actions.do_extend(session, actor=trust.people["nina"].user, seconds=1800, reason=" ")
    actions.do_extend(session, actor=trust.people["nina"].user, seconds=5400,
                      reason="Patient needs a dressing change")
    session.refresh_from_db()
    assert session.due_at == clock.now() + timedelta(minutes=90)
    assert session.planned_end == session.due_at  # the visit now runs longer than planned
    assert SessionEvent.objects.filter(kind="extended",
                                       summary__contains="dressing change").exists()


def test_mov_02_check_out_needs_the_right_pin_and_changes_nothing_otherwise(at, start_session,
                                                                           trust):
    session = start_session(interval=600)
    with pytest.raises(SessionError, match="PIN is not right"):
        actions.do_end_session(session, actor=trust.people["nina"].user, pin="0000")
    session.refresh_from_db()
    assert session.state == "active"
    with pytest.raises(PermissionDenied):
        actions.do_end_session(session, actor=trust.people["ben"].user, pin="2468")
    actions.do_end_session(session, actor=trust.people["nina"].user, pin="2468")
    session.refresh_from_db()
    assert session.state == "ended" and session.due_at is None
    at(hours=5)
    tick()
    assert not Escalation.objects.exists()
    with pytest.raises(SessionError, match="already ended"):
        actions.do_check_in(session, actor=trust.people["nina"].user)


def test_mov_03_reminders_before_the_deadline_and_at_the_planned_end(at, start_session, trust,
                                                                     settings):
    settings.REMINDER_LEAD_SECONDS = 300
    session = start_session(interval=1800, hours=1)
    at(minutes=24, seconds=59)
    tick()
    assert not Delivery.objects.filter(purpose="checkin_reminder").exists()
    at(minutes=25)
    tick()
    reminder = Delivery.objects.get(purpose="checkin_reminder", channel="in_app")
    assert reminder.recipient.username == "nina" and "due at 09:30" in reminder.body
    actions.do_check_in(session, actor=trust.people["nina"].user)
    at(minutes=60)
    tick()
    end = Delivery.objects.get(purpose="end_reminder", channel="in_app")
    assert "planned to end at 10:00" in end.body


def test_mov_05_location_is_dropped_without_consent_and_forgotten_at_the_end(at, start_session,
                                                                            trust):
    nina = trust.people["nina"]
    session = start_session(interval=600)
    actions.do_check_in(session, actor=nina.user, lat=52.6, lon=0.1)
    assert SessionPosition.objects.filter(event__session=session, lat=52.6).exists()
    actions.do_end_session(session, actor=nina.user, pin="2468")
    session.refresh_from_db()
    assert session.last_lat is None and not SessionPosition.objects.exists()
    assert session.events.get(kind="checked_in").lat is None
    actions.do_set_location_consent(nina, consent=False, actor=nina.user)
    second = start_session(interval=600)
    actions.do_check_in(second, actor=nina.user, lat=52.6, lon=0.1)
    second.refresh_from_db()
    assert second.last_lat is None


@pytest.mark.parametrize(("lat", "lon", "message"), [
    (91, 0, "Latitude must be between"), (0, 181, "Longitude must be between"),
    (52, None, "both latitude and longitude"),
])
def test_mov_05_impossible_coordinates_are_refused(at, start_session, trust, lat, lon, message):
    session = start_session(interval=600)
    with pytest.raises(SessionError, match=message):
        actions.do_check_in(session, actor=trust.people["nina"].user, lat=lat, lon=lon)
    session.refresh_from_db()
    assert session.due_at == clock.now() + timedelta(minutes=10)


def test_esc_02_every_step_delivery_and_action_is_on_the_timeline(at, start_session, trust):
    session = start_session(interval=600)
    at(minutes=15)
    tick()
    engine.do_acknowledge(Escalation.objects.get(), actor=trust.people["ben"].user)
    kinds = list(session.events.values_list("kind", flat=True))
    assert kinds[:3] == ["started", "deadline_missed", "step_fired"]
    assert {"delivery", "delivery_failed", "acknowledged"} <= set(kinds)
    failed = session.events.filter(kind="delivery_failed").first()
    assert "Phone notification to Nina" in failed.summary


def test_esc_05_session_counted_state_overdue_while_escalating(at, start_session):
    session = start_session(interval=600)
    at(minutes=10)
    tick()
    session.refresh_from_db()
    assert session.state == Session.State.OVERDUE


def test_esc_05_forgotten_check_outs_are_counted_per_team_for_managers(at, start_session, trust,
                                                                      as_person):
    for _ in range(2):
        start_session(interval=600)
        at(minutes=11)
        tick()
        engine.do_resolve(Escalation.objects.exclude(state="resolved").get(),
                          outcome="forgot_to_check_out", actor=trust.people["maria"].user)
        at(minutes=0)
    board = as_person(trust.people["maria"]).get("/board/").content.decode()
    assert "Forgotten check-outs (last 90 days)" in board and "North: 2" in board
    other = as_person(trust.people["marcus"]).get("/board/").content.decode()
    assert "North: 2" not in other


def test_mov_02_guessing_the_pin_is_slowed_down(at, start_session, trust):
    session = start_session(interval=600)
    nina = trust.people["nina"].user
    for _ in range(pins.PIN_ATTEMPTS):
        with pytest.raises(SessionError, match="PIN is not right"):
            actions.do_end_session(session, actor=nina, pin="0000")
    with pytest.raises(SessionError, match="Too many wrong PINs"):
        actions.do_end_session(session, actor=nina, pin="2468")
    at(minutes=16)
    actions.do_end_session(session, actor=nina, pin="2468")
    session.refresh_from_db()
    assert session.state == "ended"
    assert session.events.filter(kind="pin_failed").count() == pins.PIN_ATTEMPTS


def test_esc_02_board_stream_says_changed_when_a_session_changes(start_session, trust,
                                                                as_person, settings):
    settings.BOARD_POLL_SECONDS = 1
    session = start_session(interval=600)
    assert as_person(trust.people["nina"]).get("/board/events").status_code == 403
    fragment = as_person(trust.people["maria"]).get("/board/fragment").content.decode()
    assert "Nina" in fragment and "Active" in fragment
    response = as_person(trust.people["maria"]).get("/board/events")
    assert response["Content-Type"] == "text/event-stream"
    stream = iter(response.streaming_content)
    assert next(stream) == b"retry: 3000\n\n"
    assert next(stream) == b":\n\n"  # the board as it is now
    actions.do_check_in(session, actor=trust.people["nina"].user)
    assert next(stream) == b"event: changed\ndata: /board/fragment\n\n"
    assert next(stream) == b":\n\n"


def test_esc_01_manager_changes_the_team_policy_on_a_page(trust, as_person):
    client = as_person(trust.people["maria"])
    page = client.get(f"/teams/{trust.north.pk}/escalation-policy").content.decode()
    assert "At the deadline" in page and "Change the steps" in page
    bad = client.post(f"/teams/{trust.north.pk}/escalation-policy", {
        "step-0-minutes": "10", "step-0-target": "buddy", "step-0-channels": ["sms"],
        "step-1-minutes": "5", "step-1-target": "line_manager", "step-1-channels": ["email"]})
    assert bad.status_code == 400 and "must be in order" in bad.content.decode()
    client.post(f"/teams/{trust.north.pk}/escalation-policy", {
        "step-0-minutes": "0", "step-0-target": "buddy", "step-0-channels": ["sms", "in_app"],
        "step-1-minutes": "2.5", "step-1-target": "line_manager", "step-1-channels": ["email"]})
    from lonewatch.escalation.policy import steps_for

    assert [(s.after_seconds, s.target, s.channels) for s in steps_for(trust.north)] == [
        (0, "buddy", ("sms", "in_app")), (150, "line_manager", ("email",))]
    nina = as_person(trust.people["nina"])
    assert nina.get(f"/teams/{trust.north.pk}/escalation-policy").status_code == 404


def test_esc_02_everyone_told_hears_how_it_ended(at, start_session, trust):
    session = start_session(interval=600)
    at(minutes=26)
    tick()
    engine.do_resolve(Escalation.objects.get(), outcome="worker_safe",
                      actor=trust.people["maria"].user)
    closing = Delivery.objects.filter(purpose="escalation_resolved", channel="in_app")
    assert {d.recipient.username for d in closing} == {"ben"}  # not Maria, not Nina
    assert "Worker safe" in closing.get().subject and session.pk


def test_esc_03_a_failing_scanner_does_not_stop_the_others(db, monkeypatch, caplog):
    from lonewatch.worker import loop

    ran = []

    def broken():
        raise RuntimeError("a bug in one scanner")

    monkeypatch.setattr(loop, "_scanners", [loop.Scanner("broken", broken),
                                            loop.Scanner("next", lambda: ran.append(1) or 0)])
    loop.Worker().tick()
    assert ran == [1] and "scanner failed" in caplog.text


def test_esc_02_acknowledged_but_never_closed_keeps_being_chased(at, start_session, trust,
                                                                 settings):
    settings.HANDLING_REMINDER_SECONDS = 1800
    session = start_session(interval=600)
    at(minutes=15)
    tick()
    engine.do_acknowledge(Escalation.objects.get(), actor=trust.people["ben"].user)
    at(minutes=44)
    tick()
    assert not Delivery.objects.filter(purpose__startswith="handling_reminder").exists()
    at(minutes=45)
    tick()
    first = Delivery.objects.filter(purpose="handling_reminder_1", channel="in_app")
    assert [d.recipient.username for d in first] == ["ben"]
    assert "Still open" in first.get().subject
    at(minutes=75)
    tick()
    second = Delivery.objects.filter(purpose="handling_reminder_2", channel="in_app")
    assert sorted(d.recipient.username for d in second) == ["ben", "maria"]
    # No policy step fired after the acknowledgement.
    assert recipients(session) == ["nina", "ben"]
    engine.do_resolve(Escalation.objects.get(), outcome="worker_safe",
                      actor=trust.people["ben"].user)
    at(minutes=200)
    tick()
    assert not Delivery.objects.filter(purpose="handling_reminder_3").exists()


def test_esc_03_missed_deadline_and_the_workers_own_first_step_in_one_pass(at, start_session,
                                                                          trust):
    """The burst path: the deadline's pass starts the escalation and, when the first step
    is the worker's and already due, fires it too; the timeline reads in order."""
    session = start_session(interval=600)
    at(minutes=10)
    assert engine.start_due() == 1
    escalation = Escalation.objects.get(session=session)
    assert (escalation.next_step, escalation.state) == (1, "open")
    assert escalation.next_step_at == escalation.missed_at + timedelta(minutes=5)
    assert told(session) == [("nina", "push"), ("nina", "sms"), ("nina", "in_app")]
    kinds = list(SessionEvent.objects.filter(session=session).order_by("id")
                 .values_list("kind", flat=True))
    assert kinds[-3:] == ["deadline_missed", "step_fired", "delivery"]
    sms = Delivery.objects.get(about_kind="escalation", channel="sms")
    assert (sms.status, sms.about_id, sms.address) == ("pending", escalation.pk,
                                                            "+447700900100")
    assert engine.fire_due() == 0  # nothing left for the step scanner


def test_esc_03_a_first_step_for_someone_else_waits_for_the_step_scanner(at, start_session,
                                                                         trust):
    do_set_policy(trust.north, [{"after_seconds": 0, "notify": "buddy", "channels": ["in_app"]}],
                  actor=None)
    session = start_session(interval=600)
    at(minutes=10)
    engine.start_due()
    assert Escalation.objects.get(session=session).next_step == 0 and told(session) == []
    engine.fire_due()
    assert told(session) == [("ben", "in_app")]


def test_esc_03_burst_of_missed_deadlines_gets_distinct_escalations(at, start_session, trust):
    """Escalation ids are reserved before the rows are written (COPY on PostgreSQL):
    each session's deliveries point at its own escalation."""
    sessions = [start_session(interval=600)]
    for name in ("ben", "sol"):  # the same visit, copied for two more workers
        copy = Session.objects.get(pk=sessions[0].pk)
        copy.pk, copy.worker = None, trust.people[name]
        copy.save()
        sessions.append(copy)
    at(minutes=10)
    assert engine.start_due() == 3
    for session in sessions:
        escalation = Escalation.objects.get(session=session)
        assert set(Delivery.objects.filter(
            about_kind="escalation", about_id__in=Escalation.objects.filter(session=session)
            .values("pk")).values_list("about_id", flat=True)) == {escalation.pk}
    assert Escalation.objects.count() == 3 == len({e.pk for e in Escalation.objects.all()})
