from django.core.management.base import BaseCommand

from lonewatch.worker.loop import Worker


class Command(BaseCommand):
    help = "Run the background worker: heartbeat, deadlines, deliveries."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="one pass, then exit")

    def handle(self, *args, once=False, **options):
        worker = Worker()
        if once:
            handled = worker.run_once()
            self.stdout.write(f"handled {handled}")
            return
        worker.run_forever()
