"""Recordings falling due at once (REC-02, Q-PERF): 100,000 closed false alarms, each with
a real recording file in the filesystem store (encrypted, as Lonewatch writes it) and a
position on its trail, all past their retention date. Measured: how long until every one
is destroyed (target: 5 minutes on the 2-core machine), and that every file is gone.

Alongside, in the same database and with the same one worker process, as a trust runs
it: the escalation benchmark's burst of 10,000 missed deadlines falls while the worker
destroys, and its first-message p99 must still be under 2 s.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

from bench.common import run

RECORDINGS = int(os.environ.get("BENCH_RECORDINGS", "100000"))
AUDIO_BYTES = int(os.environ.get("BENCH_RECORDING_BYTES", "4000"))
LIMIT_SECONDS = 300

SEED = r"""
import os, secrets, sys
from datetime import timedelta
import django
django.setup()
from django.db import connection, transaction
from lonewatch import clock
from lonewatch.accounts.models import User
from lonewatch.alarms.models import Alarm, AlarmEvent, AlarmPosition, AudioChunk
from lonewatch.core import bulk, vault
from lonewatch.org.models import Directorate, Organisation, Person, Team
from lonewatch.recordings.models import Recording

count, size = int(sys.argv[1]), int(sys.argv[2])
now = clock.now()
closed = now - timedelta(hours=25)
audio = b"\x1a\x45\xdf\xa3" + os.urandom(size - 4)
with transaction.atomic():
    org = Organisation.objects.create(name="Bench Recordings Trust")
    team = Team.objects.create(name="Bench Team",
                               directorate=Directorate.objects.create(organisation=org, name="D"))
    worker = Person.objects.create(user=User.objects.create(username="bench-worker", password="!"),
                                   organisation=org, team=team, full_name="Worker")
for start in range(0, count, 5000):
    n = min(5000, count - start)
    with transaction.atomic():
        alarm_ids = bulk.reserve_ids(Alarm, n)
        bulk.insert_rows(Alarm, [{
            "id": pk, "organisation_id": org.pk, "worker_id": worker.pk, "kind": "red",
            "state": "closed", "source": "app", "drill": False, "message": "",
            "raised_at": closed, "closed_at": closed, "category": "false_alarm",
            "worker_agreed": True, "duress_suspected": False, "hidden_from_worker": False,
            "realerts": 0, "escalated_to": "", "emergency_reference": ""}
            for pk in alarm_ids])
        chunks, recordings = [], []
        for pk in alarm_ids:
            name = vault.save(f"{pk}/000000-{secrets.token_hex(6)}.part", audio)
            chunks.append({"alarm_id": pk, "seq": 0, "content_type": "audio/webm",
                           "size": size, "sha256": "0" * 64, "received_at": closed,
                           "starts_take": True, "file": name})
            recordings.append({"alarm_id": pk, "organisation_id": org.pk,
                               "made_by_id": worker.pk, "format": "audio/webm", "size": size,
                               "chunks": 1, "checksum": "0" * 64, "takes": [],
                               "positions": 1, "rule": "false_alarm",
                               "delete_after": closed + timedelta(hours=24)})
        bulk.insert_rows(AudioChunk, chunks)
        bulk.insert_rows(Recording, recordings)
        from lonewatch.alarms import timeline
        lines = [{"alarm_id": pk, "at": closed, "kind": "location",
                  "summary": "Location received", "data": {}} for pk in alarm_ids]
        timeline.TIMELINE.append_rows(lines, copy=True)
        ids = dict(AlarmEvent.objects.filter(alarm_id__in=alarm_ids).values_list("alarm_id", "pk"))
        AlarmPosition.objects.bulk_create(
            AlarmPosition(event_id=ids[pk], lat=52.6, lon=0.16, accuracy_m=10.0)
            for pk in alarm_ids)
print("seeded")
"""

COUNT_LEFT = "SELECT count(*) FROM recordings_recording WHERE destroyed_at IS NULL"


def _psql(url, sql):
    return run(["psql", url, "-tAc", sql]).stdout.strip()


def main() -> None:
    from bench import overdue

    results = {}

    def before(env, url):
        started = time.monotonic()
        seeded = subprocess.run([sys.executable, "-c", SEED, str(RECORDINGS),
                                 str(AUDIO_BYTES)], env=env, capture_output=True, text=True)
        if seeded.returncode:
            raise SystemExit(f"seeding failed:\n{seeded.stderr[-3000:]}")
        results["seed_seconds"] = time.monotonic() - started
        results["store"] = Path(env["LONEWATCH_DATA_DIR"]) / "recordings"
        results["files_before"] = sum(1 for _ in results["store"].rglob("*.part"))

    def started():
        results["started"] = time.monotonic()

    def until(url):
        if "seconds" not in results and int(_psql(url, COUNT_LEFT)) == 0:
            results["seconds"] = time.monotonic() - results["started"]
            results["logged"] = int(_psql(url, "SELECT count(*) FROM recordings_destruction"))
            results["files_after"] = sum(1 for _ in results["store"].rglob("*.part"))
            results["positions_after"] = int(_psql(url, "SELECT count(*) FROM "
                                                        "alarms_alarmposition"))
        return "seconds" in results

    report, _texts, duplicates = overdue.trial(1, before=before, started=started, until=until)
    print(f"{RECORDINGS} recordings due at once ({AUDIO_BYTES} bytes each, one file and one "
          "position each), PostgreSQL, one worker")
    print(f"  seeded in              {results['seed_seconds']:.0f} s "
          f"({results['files_before']} files in the store)")
    if "seconds" not in results:
        print("  NOT all destroyed before the run ended")
        return
    print(f"  all destroyed in       {results['seconds']:.1f} s "
          f"(target {LIMIT_SECONDS} s; {RECORDINGS / results['seconds']:.0f} a second)")
    print(f"  logged                 {results['logged']} in the destruction log")
    print(f"  files / positions left {results['files_after']} / {results['positions_after']}")
    count, p50, p99, worst = report.split("|")
    print(f"{overdue.SESSIONS} deadlines in the same second, in the same database and "
          "worker, while it destroys")
    print(f"  first notification after the deadline: p50 {float(p50):.2f} s, "
          f"p99 {float(p99):.2f} s (target 2 s), worst {float(worst):.2f} s")
    print(f"  duplicate deliveries   {duplicates}")


if __name__ == "__main__":
    main()
