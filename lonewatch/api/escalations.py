"""Running escalations of missed check-ins over the JSON API: list, read, acknowledge,
resolve (ESC-02)."""

from datetime import datetime

from ninja import Router, Schema
from ninja.errors import HttpError
from pydantic import Field

from lonewatch.api.schemas import one_of, refusals
from lonewatch.core import permissions as perms
from lonewatch.escalation import actions as escalations
from lonewatch.escalation.access import access_escalation
from lonewatch.escalation.models import Escalation

router = Router()


class EscalationOut(Schema):
    id: int
    session_id: int
    worker_id: int
    state: one_of(Escalation.State)
    missed_at: datetime
    next_step: int
    next_step_at: datetime | None
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    resolved_by: str | None
    resolved_at: datetime | None
    outcome: one_of(Escalation.Outcome, blank=True)
    note: str


class ResolveIn(Schema):
    # "Checked in late" is recorded by the worker's check-in, never chosen.
    outcome: one_of(Escalation.Outcome, but=[Escalation.Outcome.LATE_CHECK_IN])
    note: str = Field("", description="Kept up to 2,000 characters; the rest is cut")


def _escalation_out(e: Escalation) -> dict:
    return {
        "id": e.pk, "session_id": e.session_id, "worker_id": e.session.worker_id,
        "state": e.state, "missed_at": e.missed_at, "next_step": e.next_step,
        "next_step_at": e.next_step_at,
        "acknowledged_by": e.acknowledged_by.username if e.acknowledged_by else None,
        "acknowledged_at": e.acknowledged_at,
        "resolved_by": e.resolved_by.username if e.resolved_by else None,
        "resolved_at": e.resolved_at, "outcome": e.outcome, "note": e.note,
    }


@router.get("/escalations", response={200: list[EscalationOut], **refusals(400)},
            tags=["escalations"])
def list_escalations(request, state: one_of(Escalation.State) | None = None):
    found = perms.filter_visible(request.user, Escalation.objects.select_related(
        "session", "acknowledged_by", "resolved_by"))
    if state is not None:
        found = found.filter(state=state)
    return [_escalation_out(e) for e in found.order_by("-missed_at")[:500]]


@router.get("/escalations/{escalation_id}", response={200: EscalationOut, **refusals(400, 404)},
            tags=["escalations"])
def get_escalation(request, escalation_id: int):
    return _escalation_out(access_escalation(request.user, escalation_id))


@router.post("/escalations/{escalation_id}/acknowledge",
             response={200: EscalationOut, **refusals(400, 403, 404, 409)},
             tags=["escalations"], summary="I am handling this (stops further steps)")
def acknowledge(request, escalation_id: int):
    escalation = access_escalation(request.user, escalation_id, action=perms.ACT)
    try:
        escalation = escalations.do_acknowledge(escalation, actor=request.user)
    except escalations.EscalationConflict as error:
        raise HttpError(409, str(error)) from None
    return _escalation_out(escalation)


@router.post("/escalations/{escalation_id}/resolve",
             response={200: EscalationOut, **refusals(400, 403, 404, 409)},
             tags=["escalations"], summary="Record the outcome")
def resolve(request, escalation_id: int, payload: ResolveIn):
    escalation = access_escalation(request.user, escalation_id, action=perms.ACT)
    try:
        escalation = escalations.do_resolve(escalation, outcome=payload.outcome,
                                            note=payload.note, actor=request.user)
    except escalations.EscalationConflict as error:
        raise HttpError(409, str(error)) from None
    except ValueError as error:
        raise HttpError(400, str(error)) from None
    return _escalation_out(escalation)
