"""MOV-04 on the dashboard, side by side: a line manager who works alone ends a visit
with her PIN, or with her duress PIN. The dashboard her own account reads is the same
either way (no red alert); the security manager's counts the silent alarm."""

from datetime import timedelta

import pytest
from django.contrib.auth.hashers import make_password

from lonewatch import clock
from lonewatch.governance import dashboard
from lonewatch.visits import actions

pytestmark = pytest.mark.django_db


def _red_alerts(board) -> list[str]:
    return [str(row.cells["red_alerts"]) for row in board.rows
            if row.cells.get("red_alerts") is not None]


@pytest.mark.parametrize("pin", ["2468", "9753"])
def test_rsk_05_mov_04_the_readers_own_duress_alarm_is_not_on_her_dashboard(trust, pin,
                                                                           settings):
    settings.MIN_CHECKIN_INTERVAL_SECONDS = 60
    maria, nina = trust.people["maria"], trust.people["nina"]
    maria.buddy, maria.buddy_accepted_at = nina, clock.now()
    maria.pin_hash, maria.duress_pin_hash = make_password("2468"), make_password("9753")
    maria.save()
    session = actions.do_start_session(
        maria, actor=maria.user, kind="shift", address="Clarkson Clinic",
        planned_start=clock.now(), planned_end=clock.now() + timedelta(hours=1),
        buddy=nina, interval_seconds=600)
    actions.do_end_session(session, actor=maria.user, pin=pin)
    hers = dashboard.build(maria.user, team_id=trust.north.pk)
    assert _red_alerts(hers) == ["0"] + ["0"] * (len(hers.rows) - 1)
    trusts = dashboard.build(trust.people["leslie"].user)
    assert _red_alerts(trusts)[0] == ("1" if pin == "9753" else "0")
