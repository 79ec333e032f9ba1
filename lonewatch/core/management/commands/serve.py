import os
import shutil
import sys

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand


def granian_argv(host: str, port: int, workers: int, threads: int) -> list[str]:
    # WSGI under granian, several blocking threads per process: the fastest way
    # this machine served the check-in path, and a thread can hold a live stream.
    exe = shutil.which("granian", path=os.path.dirname(sys.executable)) or "granian"
    return [
        exe, "--interface", "wsgi", "--host", host, "--port", str(port),
        "--workers", str(workers), "--blocking-threads", str(threads),
        "--no-ws", "--respawn-failed-workers", "--no-access-log",
        "--workers-kill-timeout", "10", "lonewatch.wsgi:application",
    ]


class Command(BaseCommand):
    help = "Serve Lonewatch over HTTP with granian (the production server)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=settings.SERVER_WORKERS)
        parser.add_argument("--threads", type=int, default=settings.SERVER_THREADS)

    def handle(self, *args, host, port, workers, threads, **options):
        call_command("collectstatic", interactive=False, verbosity=0)
        argv = granian_argv(host, port, workers, threads)
        self.stdout.write(f"Lonewatch is serving on http://{host}:{port}/")
        sys.stdout.flush()
        os.execv(argv[0], argv)  # noqa: S606 - granian replaces this process
