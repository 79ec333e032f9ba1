from django.core.management.base import BaseCommand, CommandError

from lonewatch.core import audit


class Command(BaseCommand):
    help = "Check the audit trail: `lonewatch audit verify` finds edited or deleted events."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("verify", help="recompute every hash chain")

    def handle(self, *args, action, **options):
        checked, problems = audit.verify()
        if problems:
            for problem in problems:
                self.stderr.write(f"TAMPERED: {problem}")
            raise CommandError(
                f"audit trail is NOT intact: {len(problems)} problem(s) in {checked} events"
            )
        self.stdout.write(f"audit trail intact: {checked} events checked")
