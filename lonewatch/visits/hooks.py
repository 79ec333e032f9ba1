"""The hooks of the visits layer: every effect of a session on a higher app.

visits imports neither escalation nor alarms. These are the points where a session
causes something those apps own; each is connected by the owning app in its
``AppConfig.ready()`` (see docs/architecture.md).
"""

from dataclasses import dataclass, field

from lonewatch.core.hooks import Hook

worker_back_in_contact = Hook("worker back in contact", required=True, doc="""
Called ``(session, *, actor)`` inside the transaction of a check-in, a "running late" or
a check-out of an overdue session: whatever was chasing the missed check-in stops
(escalation resolves it as a late check-in).""")

duress_at_checkout = Hook("duress at check-out", required=True, doc="""
Called ``(session, *, actor, checked_out)`` inside the check-out's transaction when the
worker used their duress PIN (MOV-04), before the session is closed, so that what it
raises carries the session's last known location. ``checked_out`` is False when the PIN
lockout refused the check-out. The phone's answer does not change.""")

visit_risk = Hook("visit risk", doc="""
Called ``(worker, *, actor, nhs_number, service_user_ref, postcode, address, why)`` when a
visit is planned, moved or started (PRE-04). A handler answers a ``Risk`` or None: the
markers app matches the risk markers and the place's history. Every marker it reads
for the answer is an audited read. With no handler every visit is low risk.""")


@dataclass
class Risk:
    """What a handler of ``visit_risk`` answers: the risk, the reasons a person reads, and
    the shortest check-in interval the risks allow (None: no limit)."""

    risk: str = "low"
    reasons: list[str] = field(default_factory=list)
    interval_seconds: int | None = None
    marker_ids: list[int] = field(default_factory=list)

    @property
    def high(self) -> bool:
        return self.risk == "high"


def risk_of(worker, **visit) -> Risk:
    """Every handler's answer as one: high if any says so; the shortest interval."""
    answers = [r for r in visit_risk(worker, **visit) if r is not None]
    caps = [r.interval_seconds for r in answers if r.interval_seconds]
    return Risk("high" if any(r.high for r in answers) else "low",
                [reason for r in answers for reason in r.reasons],
                min(caps) if caps else None,
                [pk for r in answers for pk in r.marker_ids])
