"""Shared pieces of the benchmarks: a scratch PostgreSQL database, the server, pgbench,
percentiles, and a measurement run on both databases."""

import math
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

PG = {"host": os.environ.get("BENCH_PGHOST", "127.0.0.1"),
      "port": os.environ.get("BENCH_PGPORT", "5432"),
      "user": os.environ.get("BENCH_PGUSER", "postgres")}
ROOT = Path(__file__).resolve().parent.parent


def pg_args() -> list[str]:
    return ["-h", PG["host"], "-p", PG["port"], "-U", PG["user"]]


def run(cmd, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kwargs)


@contextmanager
def scratch_database(name: str):
    """A fresh database on the PostgreSQL server, dropped afterwards."""
    run(["dropdb", *pg_args(), "--if-exists", name])
    run(["createdb", *pg_args(), name])
    try:
        yield f"postgres://{PG['user']}@{PG['host']}:{PG['port']}/{name}"
    finally:
        subprocess.run(["dropdb", *pg_args(), "--if-exists", "--force", name],
                       capture_output=True)


def lonewatch_env(database_url: str, data_dir: str, **extra) -> dict:
    return {**os.environ, "DATABASE_URL": database_url, "LONEWATCH_DATA_DIR": data_dir,
            "LONEWATCH_LOG_LEVEL": "warning", "DJANGO_SETTINGS_MODULE": "lonewatch.settings",
            **extra}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def server(env: dict, *, workers: int = 2, threads: int = 8):
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "lonewatch", "serve", "--port", str(port), "--workers",
         str(workers), "--threads", str(threads)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)  # noqa: S310
                break
            except OSError:
                time.sleep(0.3)
        else:
            raise RuntimeError("the server did not start")
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(process.pid, 15)
        process.wait(timeout=30)


def pgbench_tps(clients: int = 32, seconds: int = 15) -> float:
    """pgbench's simple-update workload (-N) on the same server: the reference figure."""
    with scratch_database("lonewatch_bench_pgbench") as _url:
        run(["pgbench", *pg_args(), "-i", "-q", "-s", "10", "lonewatch_bench_pgbench"])
        out = run(["pgbench", *pg_args(), "-N", "-c", str(clients), "-j", "2", "-T",
                   str(seconds), "lonewatch_bench_pgbench"]).stdout
    return float(re.search(r"tps = ([\d.]+)", out).group(1))


def wrk(url: str, script: Path, *, clients: int = 32, seconds: int = 15) -> dict:
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: run `make setup`")
    out = run(["wrk", "-t2", f"-c{clients}", f"-d{seconds}s", "--latency", "-s", str(script),
               url]).stdout
    units = {"us": 0.001, "ms": 1.0, "s": 1000.0}

    def latency(label):
        value, unit = re.search(rf"{label}\s+([\d.]+)(us|ms|s)\b", out).groups()
        return float(value) * units[unit]

    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {
        "requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),
        "p50_ms": latency("50%"), "p99_ms": latency("99%"),
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "socket_errors": errors.group(1) if errors else "none",
        "raw": out,
    }


def temp_dir() -> str:
    return tempfile.mkdtemp(prefix="lonewatch-bench-")


def pct(values: list[float], p: float) -> float:
    """The nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))]


def figures(values: list[float], percentiles=(50, 95)) -> str:
    """Milliseconds at the given percentiles, and the slowest."""
    return ", ".join([*(f"p{p} {pct(values, p):.2f} ms" for p in percentiles),
                      f"max {max(values):.2f} ms"])


def on_both_databases(module: str, database: str) -> None:
    """Run ``python -m <module> <label>`` in a fresh process, migrated, first on a scratch
    PostgreSQL database and then on a scratch SQLite file (the embedded default); the
    module measures when given a label."""
    def trial(env: dict, label: str) -> None:
        run([sys.executable, "-m", "lonewatch", "migrate", "-v0"], env=env)
        subprocess.run([sys.executable, "-m", module, label], env=env, check=True)

    data_dir = temp_dir()
    try:
        with scratch_database(database) as url:
            trial(lonewatch_env(url, data_dir), "PostgreSQL")
        sqlite = temp_dir()
        try:
            trial(lonewatch_env(f"sqlite:///{sqlite}/bench.sqlite3", sqlite),
                  "SQLite (the embedded default)")
        finally:
            shutil.rmtree(sqlite, ignore_errors=True)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
