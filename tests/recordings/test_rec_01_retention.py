"""REC-01, REC-02: each recording is kept to the day its rule gives, and destroyed by the
worker's next pass after it: a false alarm's within 24 hours of closing, an amber alert's
after 3 months (12 if a genuine red alert of the same worker that day links it), a
genuine red alert's after 12 months. Re-categorising moves the date; a legal hold stops
destruction until it is released."""

from datetime import timedelta

import pytest
from dateutil.relativedelta import relativedelta

from lonewatch.alarms import actions as alarms
from lonewatch.core import vault
from lonewatch.recordings.actions import destroy_due, do_place_hold, do_release_hold
from lonewatch.recordings.models import Recording
from lonewatch.worker.loop import Worker
from tests.recordings.conftest import later

pytestmark = pytest.mark.django_db

MINUTE = timedelta(minutes=1)


def one_worker_cycle() -> None:
    """One pass of the worker, every scanner, as it runs in production."""
    Worker().tick()


def files_of(made) -> list[str]:
    return [chunk.file for chunk in made.alarm.audio_chunks.all()]


def kept(made) -> bool:
    recording = Recording.objects.get(alarm=made.alarm)
    return recording.destroyed_at is None and made.alarm.audio_chunks.exists()


def test_rec_01_a_false_alarm_is_kept_23h59_and_gone_at_24h_plus_one_worker_cycle(
        make, at, time_machine):
    at()
    made = make("red", close="false_alarm")
    names = files_of(made)
    assert len(names) == 3 and all(vault.exists(n) for n in names)
    recording = made.recording
    assert recording.rule == "false_alarm"
    assert recording.delete_after == made.alarm.closed_at + timedelta(hours=24)

    later(time_machine, timedelta(hours=24) - MINUTE)
    one_worker_cycle()
    assert kept(made) and all(vault.exists(n) for n in names)

    later(time_machine, MINUTE)
    one_worker_cycle()
    assert not kept(made)
    assert not any(vault.exists(n) for n in names)


def test_rec_01_an_amber_alert_is_kept_3_months(make, at, time_machine):
    at()
    made = make("amber")
    recording = made.recording
    assert recording.rule == "amber" and recording.chunks == 1
    assert recording.delete_after == made.alarm.raised_at + relativedelta(months=3)
    time_machine.move_to(recording.delete_after - MINUTE, tick=False)
    assert destroy_due() == 0 and kept(made)
    time_machine.move_to(recording.delete_after, tick=False)
    assert destroy_due() == 1 and not kept(made)


def test_rec_01_an_amber_linked_to_a_genuine_red_that_day_is_kept_12_months(
        make, at, time_machine):
    at()
    amber = make("amber")
    assert amber.recording.rule == "amber"
    at(hours=3)
    make("red", close="genuine")
    recording = amber.recording
    assert recording.rule == "amber_linked"
    assert recording.delete_after == amber.alarm.raised_at + relativedelta(months=12)
    time_machine.move_to(amber.alarm.raised_at + relativedelta(months=3, days=1), tick=False)
    assert destroy_due() == 0 and kept(amber)
    time_machine.move_to(recording.delete_after, tick=False)
    assert destroy_due() == 1 and not kept(amber)


def test_rec_01_an_amber_on_another_day_is_not_linked(make, at):
    at()
    amber = make("amber")
    at(days=1)
    make("red", close="genuine")
    assert amber.recording.rule == "amber"


def test_rec_01_a_genuine_red_alert_is_kept_12_months(make, at, time_machine):
    at()
    made = make("red", close="genuine_closed_safely", escalate="emergency_services")
    recording = made.recording
    assert recording.rule == "genuine"
    assert recording.delete_after == made.alarm.raised_at + relativedelta(months=12)
    time_machine.move_to(recording.delete_after - MINUTE, tick=False)
    assert destroy_due() == 0 and kept(made)
    time_machine.move_to(recording.delete_after, tick=False)
    assert destroy_due() == 1 and not kept(made)


def test_rec_01_an_open_alarm_is_kept_while_it_is_handled(make, at, time_machine):
    at()
    made = make("red")
    assert made.recording.rule == "open" and made.recording.delete_after is None
    later(time_machine, timedelta(days=400))
    assert destroy_due() == 0 and kept(made)


def test_rec_01_recategorising_a_false_alarm_as_genuine_keeps_it_12_months(
        make, trust, at, time_machine):
    at()
    made = make("red", close="false_alarm")
    later(time_machine, timedelta(hours=2))
    alarms.do_recategorise(made.alarm, actor=trust.people["leslie"].user, category="genuine",
                           note="Closed under duress: the assailant was in the room")
    recording = made.recording
    assert recording.rule == "genuine"
    assert recording.delete_after == made.alarm.raised_at + relativedelta(months=12)
    later(time_machine, timedelta(days=2))
    assert destroy_due() == 0 and kept(made)
    # And back: a false alarm again is destroyed 24 hours after it was closed, now.
    alarms.do_recategorise(made.alarm, actor=trust.people["leslie"].user,
                           category="false_alarm", note="Reviewed: a genuine mistake")
    assert made.recording.rule == "false_alarm"
    assert destroy_due() == 1 and not kept(made)


def test_rec_01_a_false_alarm_flagged_as_possible_duress_waits_for_the_review(
        make, at, time_machine):
    at()
    made = make("red", close="false_alarm", duress=True)
    recording = made.recording
    assert recording.rule == "awaiting_review" and recording.delete_after is None
    assert made.alarm.review.open
    later(time_machine, timedelta(days=30))
    assert destroy_due() == 0 and kept(made)


def test_rec_02_a_hold_stops_destruction_and_releasing_it_resumes_it(
        make, trust, at, time_machine):
    at()
    made = make("red", close="false_alarm")
    leslie = trust.people["leslie"].user
    hold = do_place_hold(made.recording, actor=leslie, reason="police_request",
                         detail="PC 1234 Cambridgeshire Constabulary, ref CC/2026/7781")
    later(time_machine, timedelta(days=10))
    assert destroy_due() == 0 and kept(made)
    do_release_hold(hold, actor=leslie, note="The police have their copy")
    assert destroy_due() == 1 and not kept(made)


def test_rec_01_alarms_kept_before_retention_get_the_rule_the_policy_gives(make, at):
    """The migration gives every alarm raised before this change its recording row; its
    frozen copy of the rules agrees with ``retention.decide``."""
    import importlib

    from django.apps import apps

    from lonewatch.recordings import retention
    from lonewatch.recordings.models import Review

    at()
    made = [make("amber"), make("red", close="genuine"), make("red", close="false_alarm"),
            make("red", close="false_alarm", duress=True), make("red"),
            make("red", close="genuine_closed_safely", escalate="emergency_services")]
    expected = {m.alarm.pk: (m.recording.rule, m.recording.delete_after) for m in made}
    Recording.objects.all().delete()
    Review.objects.all().delete()
    migration = importlib.import_module("lonewatch.recordings.migrations.0002_alarms_kept_before")
    migration.give_every_alarm_its_recording(apps, None)
    got = {r.alarm_id: (r.rule, r.delete_after) for r in Recording.objects.all()}
    assert got == expected
    for m in made:
        m.alarm.refresh_from_db()
        pending = Review.objects.filter(alarm=m.alarm, decided_at__isnull=True).exists()
        assert (retention.decide(m.alarm, review_pending=pending).rule,
                retention.decide(m.alarm, review_pending=pending).delete_after) == \
            expected[m.alarm.pk]
    assert Recording.objects.get(alarm=made[2].alarm).chunks == 3


def test_rec_01_the_periods_in_force_are_read_from_the_settings(settings, trust, capsys):
    from django.core.management import call_command
    from django.test import Client

    from tests.conftest import login

    settings.RETAIN_GENUINE_MONTHS = 18
    settings.RETAIN_FALSE_ALARM_HOURS = 12
    call_command("retention", "--dry-run")
    out = capsys.readouterr().out
    assert "Genuine red alert: 18 months after it was raised" in out
    assert "False alarm: 12 hours after it was closed" in out
    page = login(Client(), trust.people["leslie"], verified=True).get("/recordings/")
    assert "18 months after it was raised" in page.content.decode()
