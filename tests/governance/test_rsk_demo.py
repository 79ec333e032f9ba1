"""RSK-01 … RSK-07: the demo trust shows the governance loop in every state: activities
submitted, returned and accepted; the organisational risk with a history; SOPs in every
state; a dashboard with every colour, its live figures counted from a quarter of visits;
last half-year's board assurance made final; and loading it twice adds nothing."""

import pytest
from django.core.management import call_command
from django.utils import timezone

from lonewatch import clock
from lonewatch.accounts.models import User
from lonewatch.core import audit, figures
from lonewatch.escalation.models import Escalation
from lonewatch.governance import dashboard
from lonewatch.governance.models import (
    AssuranceReport,
    Risk,
    ScoreChange,
    SecurityProvision,
    Sop,
    Submission,
)
from lonewatch.visits.models import Session

pytestmark = pytest.mark.django_db


def _colours(board) -> dict[str, set[str]]:
    seen: dict[str, set[str]] = {}
    for row in board.rows:
        for key, cell in row.cells.items():
            if cell is not None:
                seen.setdefault(key, set()).add(cell.colour)
    return seen


def test_rsk_01_to_07_the_demo_trust_shows_governance_in_every_state(capsys):
    call_command("demo")
    out = capsys.readouterr().out
    assert "waiting for claire.director" in out

    states = set(Submission.objects.values_list("state", flat=True))
    assert {"submitted", "returned", "accepted"} <= states
    waiting = Submission.objects.get(state="submitted")
    assert waiting.version == 2 and waiting.team.name == "District Nursing North"

    risk = Risk.objects.get(lone_working=True, level="organisation")
    assert ScoreChange.objects.filter(risk=risk).count() >= 3
    assert risk.current_score < risk.initial_likelihood * risk.initial_consequence
    assert set(Risk.objects.values_list("level", flat=True)) == {"organisation", "directorate",
                                                                 "team"}

    sops = Sop.objects.select_related("team")
    assert {s.state for s in sops} == {"draft", "submitted", "approved"}
    today = timezone.localdate(clock.now())
    assert any(s.state == "approved" and s.review_on < today for s in sops)  # overdue
    assert any(s.state == "approved" and s.review_on > today for s in sops)
    assert SecurityProvision.objects.filter(signed_off_at__isnull=True).count() == 1

    board = dashboard.build(User.objects.get(username="leslie.lsms"))
    every = set().union(*_colours(board).values())
    assert {figures.GREEN, figures.AMBER, figures.RED} <= every
    trust = board.rows[0].cells
    # The live figures count the quarter's visits: missed check-ins, some of them a
    # worker who forgot to check out, and high-risk visits, one made alone.
    assert trust["missed_check_ins"].value == 5
    assert (trust["forgot_to_check_out"].value, trust["forgot_to_check_out"].out_of) == (2, 5)
    assert (trust["high_risk_visits_alone"].value,
            trust["high_risk_visits_alone"].out_of) == (1, 5)
    assert trust["red_alerts"].value > 0

    # Last half-year's board assurance is final, its evidence counting the quarter.
    report = AssuranceReport.objects.get()
    assert report.finalised_at is not None and report.period_end < today
    assert report.evidence["missed_check_ins"]["value"] == "5"
    assert all(report.written.values()) and len(report.written) == 7

    counts = (Submission.objects.count(), Sop.objects.count(), Session.objects.count(),
              Escalation.objects.count(), ScoreChange.objects.count(),
              AssuranceReport.objects.count())
    call_command("demo")
    assert (Submission.objects.count(), Sop.objects.count(), Session.objects.count(),
            Escalation.objects.count(), ScoreChange.objects.count(),
            AssuranceReport.objects.count()) == counts
    assert audit.verify()[1] == []
