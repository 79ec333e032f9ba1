import signal
import subprocess
import sys
import threading
import time

from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Migrate, then run the web server and the worker together until Ctrl-C."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args, host, port, **options):
        call_command("migrate", interactive=False, verbosity=1)
        base = [sys.executable, "-m", "lonewatch"]
        commands = {
            "web": base + ["serve", "--host", host, "--port", str(port)],
            "worker": base + ["worker"],
        }
        supervisor = Supervisor(commands, self.stdout)
        signal.signal(signal.SIGTERM, supervisor.request_stop)
        signal.signal(signal.SIGINT, supervisor.request_stop)
        supervisor.run()


class Supervisor:
    """Keep every child running; restart one that dies; stop all on a signal."""

    def __init__(self, commands: dict[str, list[str]], out):
        self.commands = commands
        self.out = out
        self.children: dict[str, subprocess.Popen] = {}
        self._stop = threading.Event()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def request_stop(self, *_args):
        self._stop.set()  # wakes run() at once: the children are told straight away

    def start(self, name):
        self.children[name] = subprocess.Popen(self.commands[name])

    def run(self):
        for name in self.commands:
            self.start(name)
        restarts: dict[str, float] = {}
        while not self._stop.wait(0.2):
            for name, child in list(self.children.items()):
                code = child.poll()
                if code is None or self.stopping:
                    continue
                # Restart, but not in a tight loop if it keeps failing.
                wait = 1.0 if time.monotonic() - restarts.get(name, 0) > 10 else 5.0
                self.out.write(f"{name} exited with {code}; restarting in {wait:.0f} s")
                self._stop.wait(wait)
                restarts[name] = time.monotonic()
                if not self.stopping:
                    self.start(name)
        self.out.write("stopping web server and worker")
        for child in self.children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for child in self.children.values():
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        self.out.write("stopped")
