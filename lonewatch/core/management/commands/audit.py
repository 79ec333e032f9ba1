from django.core.management.base import BaseCommand, CommandError

from lonewatch.core import audit
from lonewatch.core.timeline import timelines


class Command(BaseCommand):
    help = ("Check the audit trail and every timeline: `lonewatch audit verify` finds "
            "edited or deleted events and timeline lines.")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("verify", help="recompute every hash chain")

    def handle(self, *args, action, **options):
        checked, problems = audit.verify()
        counts = [f"{checked} audit events"]
        for timeline in timelines():
            lines, records, found = timeline.verify()
            counts.append(f"{lines} lines on {records} {timeline.name} timelines")
            problems += found
        if problems:
            for problem in problems:
                self.stderr.write(f"TAMPERED: {problem}")
            raise CommandError(f"audit trail is NOT intact: {len(problems)} problem(s) in "
                               f"{', '.join(counts)}")
        self.stdout.write(f"audit trail intact: {', '.join(counts)} checked")
