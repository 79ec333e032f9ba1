"""Worker memory with 100,000 active sessions (Q-PERF): peak resident set size of one
worker process while it scans them and escalates the 10,000 that fall due."""

import os
import shutil
import subprocess
import sys
import time

from bench.common import lonewatch_env, run, scratch_database, temp_dir
from tests.processes import stop

SESSIONS = int(os.environ.get("BENCH_MEMORY_SESSIONS", "100000"))
DUE = int(os.environ.get("BENCH_MEMORY_DUE", "10000"))


def _kib(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def main() -> None:
    data_dir = temp_dir()
    try:
        with scratch_database("lonewatch_bench_memory") as url:
            env = lonewatch_env(url, data_dir, LONEWATCH_LOG_LEVEL="error")
            run([sys.executable, "-m", "lonewatch", "migrate", "-v0"], env=env)
            run([sys.executable, "-m", "bench.seed", str(SESSIONS), "15", str(DUE)], env=env)
            worker = subprocess.Popen([sys.executable, "-m", "lonewatch", "worker"], env=env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                      start_new_session=True)
            try:
                time.sleep(5)
                idle = _kib(worker.pid, "VmRSS")
                deadline = time.monotonic() + 300
                while time.monotonic() < deadline:
                    done = run(["psql", url, "-tAc", "SELECT count(*) FROM escalation_escalation"
                                " WHERE next_step = 1"]).stdout.strip()
                    if int(done or 0) >= DUE:
                        break
                    time.sleep(2)
                peak = _kib(worker.pid, "VmHWM")
            finally:
                stop(worker)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    print(f"one worker, {SESSIONS} active sessions, {DUE} of them escalated, PostgreSQL")
    print(f"  resident memory idle   {idle / 1024:.0f} MB")
    print(f"  resident memory peak   {peak / 1024:.0f} MB (target: under 200 MB)")


if __name__ == "__main__":
    main()
