"""Overdue detection (ESC-02, Q-PERF): 10,000 sessions whose deadlines fall in the same
second, each first step telling the worker in Lonewatch and by text. Measured: for
every session, how long after its deadline its first notification was handed to a
transport (the in-app message: delivered when written; its time is taken just
before the batch commits), and when the text message was handed to the SMS
transport; with one worker, then with two on PostgreSQL, counting duplicates
(there must be none).
"""

import os
import shutil
import sys
import time

from bench.common import lonewatch_env, run, scratch_database, temp_dir
from tests.processes import stop

SESSIONS = int(os.environ.get("BENCH_OVERDUE_SESSIONS", "10000"))
LEAD = 20.0  # seconds between seeding and the shared deadline, for the workers to start

REPORT = """
SELECT count(*),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY lag),
       percentile_cont(0.99) WITHIN GROUP (ORDER BY lag),
       max(lag)
FROM (SELECT extract(epoch FROM min(d.sent_at) - s.due_at_seed) AS lag
      FROM notify_delivery d
      JOIN escalation_escalation e ON d.about_kind = 'escalation' AND e.id = d.about_id
      JOIN (SELECT id, %(due)s::timestamptz AS due_at_seed FROM visits_session) s
        ON s.id = e.session_id
      WHERE d.purpose = 'escalation_step_1' AND d.sent_at IS NOT NULL %(channel)s
      GROUP BY s.id, s.due_at_seed) AS firsts
"""
DUPLICATES = """
SELECT count(*) FROM (SELECT about_kind, about_id, purpose, recipient_id, channel,
                             count(*) AS n
                      FROM notify_delivery GROUP BY 1, 2, 3, 4, 5 HAVING count(*) > 1) AS d
"""


def _psql(url, sql):
    return run(["psql", url, "-tAF", "|", "-c", sql]).stdout.strip()


def _start_worker(env):
    import subprocess

    return subprocess.Popen([sys.executable, "-m", "lonewatch", "worker"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)


def trial(workers: int, *, before=None, started=None, until=None) -> tuple[str, str, str]:
    """One run. ``before(env, url)`` seeds more before the sessions are seeded; the
    workers start, then ``started()``; the run goes on until every text has gone and
    ``until(url)`` (if given) is true too."""
    data_dir = temp_dir()
    try:
        with scratch_database("lonewatch_bench_overdue") as url:
            env = lonewatch_env(url, data_dir, LONEWATCH_LOG_LEVEL="error",
                                LONEWATCH_SERVER_WORKERS="1")
            run([sys.executable, "-m", "lonewatch", "migrate", "-v0"], env=env)
            if before is not None:
                before(env, url)
            seeded = time.monotonic()
            due = run([sys.executable, "-m", "bench.seed", str(SESSIONS), str(LEAD),
                       str(SESSIONS)], env=env).stdout.strip()
            if time.monotonic() - seeded > LEAD - 3:
                raise SystemExit("seeding took longer than the lead time; raise LEAD")
            processes = [_start_worker(env) for _ in range(workers)]
            if started is not None:
                started()
            try:
                deadline = time.monotonic() + LEAD + (120 if until is None else 600)
                while time.monotonic() < deadline:
                    # Until the last of the text messages has gone (in-app ones go first).
                    sent = int(_psql(url, "SELECT count(DISTINCT e.session_id) FROM "
                                          "notify_delivery d JOIN escalation_escalation e "
                                          "ON d.about_kind = 'escalation' AND e.id = "
                                          "d.about_id WHERE d.purpose = "
                                          "'escalation_step_1' AND d.channel = 'sms' "
                                          "AND d.sent_at IS NOT NULL") or 0)
                    if sent >= SESSIONS and (until is None or until(url)):
                        break
                    time.sleep(1)
            finally:
                for process in processes:
                    stop(process)
            report = _psql(url, REPORT.replace("%(due)s", f"'{due}'")
                           .replace("%(channel)s", ""))
            texts = _psql(url, REPORT.replace("%(due)s", f"'{due}'")
                          .replace("%(channel)s", "AND d.channel = 'sms'"))
            duplicates = _psql(url, DUPLICATES)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    return report, texts, duplicates


def main() -> None:
    for workers in (1, 2):
        report, texts, duplicates = trial(workers)
        count, p50, p99, worst = report.split("|")
        print(f"{SESSIONS} deadlines in the same second, {workers} worker(s), PostgreSQL")
        print(f"  sessions notified      {count} of {SESSIONS}")
        print(f"  first notification after the deadline: p50 {float(p50):.2f} s, "
              f"p99 {float(p99):.2f} s, worst {float(worst):.2f} s")
        count, p50, p99, worst = texts.split("|")
        print(f"  text message handed to its transport ({count}): p50 {float(p50):.2f} s, "
              f"p99 {float(p99):.2f} s, worst {float(worst):.2f} s")
        print(f"  duplicate deliveries   {duplicates}")


if __name__ == "__main__":
    main()
