"""Board assurance (twice a year) against NHS England's Violence Prevention and Reduction
Standard, second edition (2024): for each part of the standard, the evidence Lonewatch
holds for the lone-working indicators, pre-filled, and the security manager's own words,
gaps included. What Lonewatch does not yet measure says so; nothing is made up."""

from dataclasses import dataclass

from django.utils import timezone

from lonewatch import clock
from lonewatch.governance import dashboard
from lonewatch.governance.models import Risk, RiskAction

# The standard's parts, in its order, with the lone-working indicators that bear on each
# (dashboard columns, read from the trust's row).
PARTS = [
    ("leadership", "Leadership and accountability", []),
    ("governance", "Governance and assurance",
     ["activities_accepted", "sop_approved", "sop_in_date", "reviews_overdue"]),
    ("collaboration", "Collaboration", []),
    ("data", "Data", ["missed_check_ins", "forgot_to_check_out", "red_alerts",
                      "alarm_reviews_overdue"]),
    ("workforce", "Workforce", ["lone_workers_named"]),
    ("interventions", "Interventions", ["high_risk_visits_alone"]),
    ("evaluation", "Evaluation", []),
]
NOT_YET = ("Training and device compliance, and incidents, are not yet recorded in "
           "Lonewatch: give them from their own sources.")


@dataclass(frozen=True)
class Indicator:
    label: str
    value: str
    colour: str


def gather(user) -> dict:
    """The evidence as it stands now, from the trust's dashboard and the register."""
    board = dashboard.build(user)
    trust = board.rows[0]
    found = {}
    for limits in board.columns:
        cell = trust.cells.get(limits.key)
        if cell is not None:
            found[limits.key] = {"label": limits.column.label, "value": str(cell),
                                 "colour": cell.colour}
    organisation_id = board.organisation.pk
    today = timezone.localdate(clock.now())
    risk = Risk.objects.filter(organisation_id=organisation_id, lone_working=True).first()
    if risk is not None:
        current = risk.score("current")
        found["risk"] = {
            "label": "The organisational lone-working risk",
            "value": f"{risk.title}: current {current}, target {risk.score('target')}, "
                     f"review {'overdue since' if risk.review_on < today else 'due'} "
                     f"{risk.review_on:%d %B %Y}",
            "colour": "red" if risk.review_on < today else "green"}
    actions = RiskAction.objects.filter(risk__organisation_id=organisation_id)
    done = actions.filter(done_at__isnull=False).count()
    total = actions.count()
    found["actions"] = {"label": "Risk actions closed", "value": f"{done} of {total}",
                        "colour": "green" if done == total else "amber"}
    return found


def parts(evidence: dict, written: dict) -> list[dict]:
    """The report's parts, each with its indicators from ``evidence`` and what the
    security manager wrote."""
    extra = {"governance": ["risk", "actions"]}
    return [{"key": key, "title": title, "text": written.get(key, ""),
             "indicators": [Indicator(**evidence[k]) for k in keys + extra.get(key, [])
                            if k in evidence]}
            for key, title, keys in PARTS]
