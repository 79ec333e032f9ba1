"""Q-REL / ESC-03: PostgreSQL restarts while the worker runs; the worker reconnects and
no escalation step is lost or fired twice. Uses a private cluster, never the shared one."""

import os
import subprocess
import sys
import time

import pytest

from tests import private_postgres
from tests.processes import stop, wait_for

pytestmark = [pytest.mark.slow]

SEED = r"""
from datetime import timedelta
import django
django.setup()
from lonewatch import clock
from lonewatch.accounts.models import User
from lonewatch.escalation.policy import do_set_policy
from lonewatch.org.models import Directorate, Organisation, Person, Team
from lonewatch.visits.models import Session

now = clock.now()
org = Organisation.objects.create(name="Restart Trust")
team = Team.objects.create(name="T", directorate=Directorate.objects.create(organisation=org,
                                                                          name="D"))
people = [Person.objects.create(user=User.objects.create(username=f"p{i}", password="!"),
                                organisation=org, team=team, full_name=f"Person {i}")
          for i in range(3)]
worker, buddy, manager = people
worker.line_manager = manager
worker.save()
do_set_policy(team, [{"after_seconds": s, "notify": t, "channels": ["in_app"]}
                     for s, t in ((0, "worker"), (6, "buddy"), (12, "line_manager"))],
              actor=None)
Session.objects.create(worker=worker, kind="visit", address="1 High Street",
                       planned_start=now, planned_end=now + timedelta(hours=1), buddy=buddy,
                       interval_seconds=60, started_at=now, last_contact_at=now,
                       due_at=now + timedelta(seconds=3))
"""


@pytest.mark.skipif(not private_postgres.available(), reason="PostgreSQL binaries not found")
def test_q_rel_postgres_restart_worker_reconnects_and_nothing_is_lost(tmp_path):
    with private_postgres.PrivateCluster() as cluster:
        env = {**os.environ, "DATABASE_URL": cluster.url, "LONEWATCH_DATA_DIR": str(tmp_path),
               "LONEWATCH_LOG_LEVEL": "warning", "LONEWATCH_WATCHDOG_GRACE_SECONDS": "2",
               "DJANGO_SETTINGS_MODULE": "lonewatch.settings"}
        subprocess.run([sys.executable, "-m", "lonewatch", "migrate", "-v0"], env=env,
                       check=True, timeout=120)
        subprocess.run([sys.executable, "-c", SEED], env=env, check=True, timeout=60)
        worker = subprocess.Popen([sys.executable, "-m", "lonewatch", "worker"], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                  start_new_session=True)

        def fired():
            return cluster.query("SELECT count(*) FROM visits_sessionevent "
                                 "WHERE kind = 'step_fired'")

        try:
            wait_for(lambda: fired() == "1", timeout=30, what="the first step", every=0.5)
            cluster.restart()  # the worker's connection is cut mid-run
            time.sleep(1)
            assert worker.poll() is None, "the worker died with the database"
            wait_for(lambda: fired() == "3", timeout=60, what="the last step", every=0.5)
        finally:
            stop(worker)
            errors = worker.stderr.read().decode(errors="replace")
        steps = cluster.query("SELECT string_agg(data->>'step', ',' ORDER BY id) FROM "
                              "visits_sessionevent WHERE kind = 'step_fired'")
        assert steps == "1,2,3"
        messages = cluster.query("SELECT count(*), count(DISTINCT (purpose, recipient_id)) "
                                 "FROM notify_delivery")
        assert messages == "3|3"
        assert "Traceback" not in errors, errors[-2000:]
