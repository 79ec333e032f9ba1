"""Check-in throughput and latency over HTTP on PostgreSQL (MOV-02, Q-PERF).

10,000 active sessions, each with its worker's bearer token; wrk with 32
connections posts check-ins to random sessions through the production server
(granian, 2 processes x 8 threads). pgbench's simple-update workload runs on the
same server in the same run as the reference, because absolute figures drift
between machines. Every check-in answered 200 must be a row in the database.
"""

import os
import secrets
import shutil
import sys
from pathlib import Path

from bench.common import lonewatch_env, pgbench_tps, run, scratch_database, server, temp_dir, wrk

SESSIONS = int(os.environ.get("BENCH_SESSIONS", "10000"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "15"))

LUA = r"""
local pairs_ = {}
for line in io.lines("%(data)s") do
  local id, token = line:match("(%%d+) (%%S+)")
  table.insert(pairs_, {id, token})
end
local body = '{"lat": 52.6661, "lon": 0.1596, "accuracy_m": 12}'
request = function()
  local pick = pairs_[math.random(#pairs_)]
  return wrk.format("POST", "/api/v1/sessions/" .. pick[1] .. "/checkins",
    {["Authorization"] = "Bearer " .. pick[2], ["Content-Type"] = "application/json"}, body)
end
"""

SEED = r"""
import hashlib, sys
from datetime import timedelta
import django
django.setup()
from django.db import transaction
from lonewatch import clock
from lonewatch.accounts.models import ApiToken, User
from lonewatch.org.models import Directorate, Organisation, Person, Team
from lonewatch.visits.models import Session

count = int(sys.argv[1])
tokens = [line.split() for line in open(sys.argv[2])]
now = clock.now()
with transaction.atomic():
    org = Organisation.objects.create(name="Bench Trust")
    team = Team.objects.create(name="Bench Team",
                               directorate=Directorate.objects.create(organisation=org, name="D"))
    buddy_user = User.objects.create(username="bench-buddy", password="!")
    buddy = Person.objects.create(user=buddy_user, organisation=org, team=team, full_name="Buddy")
    users = User.objects.bulk_create(User(username=f"bench{i}", password="!") for i in range(count))
    people = Person.objects.bulk_create(
        Person(user=u, organisation=org, team=team, full_name=f"Worker {i}", buddy=buddy,
               buddy_accepted_at=now, location_consent_at=now) for i, u in enumerate(users))
    ApiToken.objects.bulk_create(
        ApiToken(user=u, name="bench", prefix=raw[:10],
                 digest=hashlib.sha256(raw.encode()).hexdigest(), created_at=now)
        for u, (_, raw) in zip(users, tokens))
    sessions = Session.objects.bulk_create(
        Session(worker=p, kind="visit", address="1 High Street", planned_start=now,
                planned_end=now + timedelta(hours=8), buddy=buddy, interval_seconds=3600,
                started_at=now, last_contact_at=now, due_at=now + timedelta(hours=1))
        for p in people)
with open(sys.argv[2], "w") as out:
    for session, (_, raw) in zip(sessions, tokens):
        out.write(f"{session.pk} {raw}\n")
"""


def main() -> None:
    data_dir = temp_dir()
    try:
        reference = pgbench_tps(seconds=SECONDS)
        with scratch_database("lonewatch_bench") as url:
            env = lonewatch_env(url, data_dir)
            run([sys.executable, "-m", "lonewatch", "migrate", "-v0"], env=env)
            tokens = Path(data_dir) / "tokens.txt"
            tokens.write_text("".join(f"0 lw_{secrets.token_urlsafe(32)}\n"
                                      for _ in range(SESSIONS)))
            run([sys.executable, "-c", SEED, str(SESSIONS), str(tokens)], env=env)
            script = Path(data_dir) / "checkin.lua"
            script.write_text(LUA % {"data": tokens})
            with server(env, threads=int(os.environ.get("BENCH_THREADS", "32"))) as base:
                result = wrk(base, script, seconds=SECONDS)
            stored = int(run(["psql", url, "-tAc",
                              "SELECT count(*) FROM visits_sessionevent "
                              "WHERE kind = 'checked_in'"]).stdout)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    ok = result["requests"] - result["non_2xx"]
    print(f"check-ins over HTTP, {SESSIONS} sessions, 32 connections, {SECONDS} s, PostgreSQL")
    print(f"  check-ins/s            {result['requests_per_s']:.0f}")
    print(f"  latency p50 / p99      {result['p50_ms']:.1f} ms / {result['p99_ms']:.1f} ms")
    print(f"  answered non-2xx       {result['non_2xx']}  (socket errors: "
          f"{result['socket_errors']})")
    print(f"  stored check-in rows   {stored} for {ok} answered 2xx "
          f"({'all durable' if stored >= ok else 'MISSING ROWS'})")
    print(f"  pgbench -N reference   {reference:.0f} TPS")
    print(f"  ratio                  {100 * result['requests_per_s'] / reference:.1f} % of "
          "pgbench TPS")


if __name__ == "__main__":
    main()
