from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from lonewatch import clock
from lonewatch.alarms.models import Alarm
from lonewatch.recordings import actions, retention
from lonewatch.recordings.models import Recording, Review


def _when(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M") if moment else "never"


class Command(BaseCommand):
    help = ("Recordings' retention (REC-01, REC-02): `--dry-run` lists what the worker "
            "would destroy now and what falls due later; `--explain ALARM_ID` says why the "
            "recording of an alarm has the date it has. Neither changes anything.")

    def add_arguments(self, parser):
        what = parser.add_mutually_exclusive_group(required=True)
        what.add_argument("--dry-run", action="store_true",
                          help="list what would be destroyed, and when")
        what.add_argument("--explain", type=int, metavar="ALARM_ID",
                          help="why the recording of this alarm is kept until when")
        what.add_argument("--refresh", action="store_true",
                          help="decide every kept recording's date again, after the "
                               "retention periods were changed (audited)")
        parser.add_argument("--days", type=int, default=30,
                            help="with --dry-run, also list what falls due within this many "
                                 "days (default 30)")

    def handle(self, *args, dry_run=False, explain=None, refresh=False, days=30, **options):
        if explain is not None:
            self._explain(explain)
        elif refresh:
            changed = actions.refresh_all()
            self.stdout.write(f"{changed} recording date(s) changed; each change is in the "
                              "audit trail.")
        else:
            self._dry_run(days)

    def _dry_run(self, days: int) -> None:
        self.stdout.write("Retention periods in force:")
        for rule, period in retention.periods():
            self.stdout.write(f"  {rule}: {period}")
        now = clock.now()
        due = list(actions.due(now).select_related("alarm__worker"))
        self.stdout.write(f"Due now ({len(due)}): destroyed by the worker's next pass")
        for recording in due:
            self.stdout.write(self._line(recording))
        later = (Recording.objects.filter(destroyed_at__isnull=True, delete_after__gt=now,
                                          delete_after__lte=now + timedelta(days=days))
                 .select_related("alarm__worker").order_by("delete_after"))
        self.stdout.write(f"Due within {days} days ({later.count()})")
        for recording in later:
            self.stdout.write(self._line(recording))
        held = Recording.objects.filter(actions.held(), destroyed_at__isnull=True).count()
        self.stdout.write(f"Kept by a legal hold: {held}. Nothing was changed.")

    def _line(self, recording: Recording) -> str:
        return (f"  alarm #{recording.alarm_id} ({recording.alarm.worker.full_name}, "
                f"{recording.alarm.get_kind_display().lower()}): {_when(recording.delete_after)}"
                f" under \"{recording.get_rule_display()}\", {recording.chunks} file(s), "
                f"{recording.size} bytes")

    def _explain(self, alarm_id: int) -> None:
        alarm = Alarm.objects.select_related("worker", "session").filter(pk=alarm_id).first()
        if alarm is None:
            raise CommandError(f"There is no alarm #{alarm_id}.")
        recording = Recording.objects.filter(alarm=alarm).first()
        self.stdout.write(f"Alarm #{alarm.pk}: {alarm.get_kind_display()} of "
                          f"{alarm.worker.full_name}, raised {_when(alarm.raised_at)}, "
                          f"{alarm.get_state_display().lower()}"
                          + (f", {alarm.get_category_display().lower()}" if alarm.category
                             else ""))
        if recording is not None and recording.destroyed:
            log = recording.destruction
            self.stdout.write(f"Destroyed {_when(log.destroyed_at)} under "
                              f"\"{log.get_rule_display()}\" (due {_when(log.delete_after)}): "
                              f"{log.files} file(s), {log.bytes} bytes, {log.positions} "
                              "position(s).")
            return
        pending = Review.objects.filter(alarm=alarm, decided_at__isnull=True).exists()
        decision = retention.decide(alarm, review_pending=pending)
        self.stdout.write(f"Rule: {Recording.Rule(decision.rule).label}.")
        self.stdout.write(decision.why)
        self.stdout.write(f"Destroyed after: {_when(decision.delete_after)}." if
                          decision.delete_after else "No date yet: kept until the rule gives "
                                                     "one.")
        if recording is not None:
            for hold in recording.holds.filter(released_at__isnull=True):
                self.stdout.write(f"Held since {_when(hold.placed_at)}: "
                                  f"{hold.get_reason_display()} ({hold.detail}). Not destroyed "
                                  "until the hold is released.")
            if recording.delete_after != decision.delete_after:
                self.stdout.write(f"Stored date {_when(recording.delete_after)}: the retention "
                                  "periods have changed since. `lonewatch retention --refresh` "
                                  "applies them.")
