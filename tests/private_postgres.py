"""A private PostgreSQL cluster for tests that stop or restart the database.

The machine's shared server is never touched: the cluster is made with initdb in a
temporary folder, listens on a spare port on 127.0.0.1, and is removed afterwards.
"""

import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


def _binary(name: str) -> str | None:
    for folder in BIN_DIRS:
        if (folder / name).exists():
            return str(folder / name)
    return shutil.which(name)


def available() -> bool:
    return bool(_binary("initdb") and _binary("pg_ctl"))


class PrivateCluster:
    def __init__(self):
        self.root = Path(tempfile.mkdtemp(prefix="lonewatch-pg-"))
        self.data = self.root / "data"
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.as_postgres = os.geteuid() == 0  # initdb refuses to run as root

    def _run(self, *args, check=True):
        cmd = [str(a) for a in args]
        if self.as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, check=check, capture_output=True, text=True, timeout=120)

    def __enter__(self):
        if self.as_postgres:
            shutil.chown(self.root, "postgres")
        self._run(_binary("initdb"), "-D", self.data, "-A", "trust", "-U", "postgres",
                  "--no-sync")
        self.start()
        self._run(_binary("createdb") or "createdb", "-h", "127.0.0.1", "-p", self.port,
                  "-U", "postgres", "lonewatch")
        return self

    def start(self):
        self._run(_binary("pg_ctl"), "-D", self.data, "-w", "-l", self.root / "log", "-o",
                  f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} "
                  "-c fsync=off", "start")

    def restart(self):
        # -l matters: without a log file the server would hold our output pipe open.
        self._run(_binary("pg_ctl"), "-D", self.data, "-w", "-m", "fast", "-l",
                  self.root / "log", "-o",
                  f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} "
                  "-c fsync=off", "restart")

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/lonewatch"

    def query(self, sql: str) -> str:
        return subprocess.run(["psql", self.url, "-tAc", sql], check=True, capture_output=True,
                              text=True, timeout=30).stdout.strip()

    def __exit__(self, *exc):
        self._run(_binary("pg_ctl"), "-D", self.data, "-m", "immediate", "stop", check=False)
        shutil.rmtree(self.root, ignore_errors=True)
