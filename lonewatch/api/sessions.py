"""Sessions, check-ins, escalations and escalation policies over the JSON API."""

from datetime import datetime

from django.core.exceptions import PermissionDenied
from ninja import Router, Schema, Status
from ninja.errors import AuthenticationError, HttpError

from lonewatch.accounts.actions import PresentedToken, TokenRefused
from lonewatch.api.auth import RawBearer
from lonewatch.api.schemas import Error
from lonewatch.core import permissions as perms
from lonewatch.escalation import actions as escalations
from lonewatch.escalation import policy
from lonewatch.escalation.access import access_escalation
from lonewatch.escalation.models import Escalation
from lonewatch.escalation.permissions import POLICY
from lonewatch.org.access import access_me, access_team
from lonewatch.org.models import Person
from lonewatch.visits import actions
from lonewatch.visits.access import access_session
from lonewatch.visits.actions import SessionError
from lonewatch.visits.models import Session

router = Router()


class SessionIn(Schema):
    kind: str
    address: str
    postcode: str = ""
    place_lat: float | None = None
    place_lon: float | None = None
    service_user_ref: str = ""
    planned_start: datetime
    planned_end: datetime
    travel_mode: str = Session.Travel.CAR
    vehicle: str = ""
    buddy_id: int
    cover_buddy_id: int | None = None
    interval_seconds: int
    lat: float | None = None
    lon: float | None = None
    accuracy_m: float | None = None


class EventOut(Schema):
    at: datetime
    kind: str
    summary: str
    lat: float | None
    lon: float | None
    accuracy_m: float | None


class SessionOut(Schema):
    id: int
    state: str
    due_at: datetime | None
    worker_id: int
    kind: str
    address: str
    postcode: str
    service_user_ref: str
    planned_start: datetime
    planned_end: datetime
    travel_mode: str
    vehicle: str
    buddy_id: int
    cover_buddy_id: int | None
    interval_seconds: int
    started_at: datetime
    ended_at: datetime | None
    last_contact_at: datetime


class SessionDetail(SessionOut):
    timeline: list[EventOut]


class CheckInIn(Schema):
    lat: float | None = None
    lon: float | None = None
    accuracy_m: float | None = None
    note: str = ""


class DueOut(Schema):
    id: int
    state: str
    due_at: datetime | None


class ExtendIn(Schema):
    seconds: int
    reason: str


class EndIn(Schema):
    pin: str


class EscalationOut(Schema):
    id: int
    session_id: int
    worker_id: int
    state: str
    missed_at: datetime
    next_step: int
    next_step_at: datetime | None
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    resolved_by: str | None
    resolved_at: datetime | None
    outcome: str
    note: str


class ResolveIn(Schema):
    outcome: str
    note: str = ""


class StepIO(Schema):
    after_seconds: int
    notify: str
    channels: list[str]


class PolicyIO(Schema):
    steps: list[StepIO]


def _bad(error: SessionError):
    raise HttpError(400, str(error))


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


def _colleague(person_id, what) -> Person | None:
    if person_id is None:
        return None
    found = Person.objects.select_related("user").filter(pk=person_id).first()
    if found is None:
        raise HttpError(400, f"There is no person with id {person_id} who can be your {what}.")
    return found


@router.post("/sessions", response={201: SessionOut, 400: Error, 403: Error},
             tags=["sessions"], summary="Start a session (MOV-01)")
def start_session(request, payload: SessionIn):
    me = access_me(request.user)
    values = payload.dict()
    buddy = _colleague(values.pop("buddy_id"), "buddy")
    cover = _colleague(values.pop("cover_buddy_id"), "cover buddy")
    try:
        session = actions.do_start_session(me, actor=request.user, buddy=buddy,
                                           cover_buddy=cover, **values)
    except SessionError as error:
        _bad(error)
    return Status(201, session)


@router.get("/sessions", response=list[SessionOut], tags=["sessions"],
            summary="Sessions the caller may see")
def list_sessions(request, state: str | None = None):
    found = perms.filter_visible(request.user, Session.objects.all())
    if state is not None:
        if state not in Session.State.values:
            raise HttpError(400, f"state must be one of {', '.join(Session.State.values)}")
        found = found.filter(state=state)
    return list(found.order_by("-started_at")[:500])


@router.get("/sessions/{session_id}", response={200: SessionDetail, 404: Error},
            tags=["sessions"])
def get_session(request, session_id: int):
    session = access_session(request.user, session_id)
    session.timeline = list(session.events.order_by("at", "id"))
    return session


@router.post("/sessions/{session_id}/checkins", response={200: DueOut, 400: Error, 401: Error,
                                                         403: Error, 404: Error},
             tags=["sessions"], auth=RawBearer(),
             summary="Check in (MOV-02): the next check-in is due one interval from now")
def check_in(request, session_id: int, payload: CheckInIn):
    return check_in_answer(request.auth, session_id, payload)


def check_in_answer(token: str, session_id: int, payload: CheckInIn) -> dict:
    """The check-in's answer, or the exception the API turns into its refusal. The view
    above and the fast lane (api/fastlane.py) both answer with this."""
    try:
        done = actions.do_check_in(session_id, actor=PresentedToken(token), lat=payload.lat,
                                   lon=payload.lon, accuracy_m=payload.accuracy_m,
                                   note=payload.note)
    except TokenRefused:
        raise AuthenticationError() from None
    except SessionError as error:
        _bad(error)
    return {"id": done.session_id, "state": done.state, "due_at": done.due_at}


@router.post("/sessions/{session_id}/extend", response={200: DueOut, 400: Error, 403: Error,
                                                       404: Error}, tags=["sessions"],
             summary="Running late: the next check-in is due `seconds` from now")
def extend(request, session_id: int, payload: ExtendIn):
    session = access_session(request.user, session_id, action=perms.CHANGE)
    try:
        session = actions.do_extend(session, actor=request.user, seconds=payload.seconds,
                                    reason=payload.reason)
    except SessionError as error:
        _bad(error)
    return session


@router.post("/sessions/{session_id}/end", response={200: DueOut, 400: Error, 403: Error,
                                                    404: Error}, tags=["sessions"],
             summary="Check out with the worker's PIN")
def end(request, session_id: int, payload: EndIn):
    session = access_session(request.user, session_id, action=perms.CHANGE)
    try:
        session = actions.do_end_session(session, actor=request.user, pin=payload.pin)
    except SessionError as error:
        _bad(error)
    return session


@router.get("/escalations", response=list[EscalationOut], tags=["escalations"])
def list_escalations(request, state: str | None = None):
    found = perms.filter_visible(request.user, Escalation.objects.select_related(
        "session", "acknowledged_by", "resolved_by"))
    if state is not None:
        if state not in Escalation.State.values:
            raise HttpError(400, f"state must be one of {', '.join(Escalation.State.values)}")
        found = found.filter(state=state)
    return [_escalation_out(e) for e in found.order_by("-missed_at")[:500]]


@router.get("/escalations/{escalation_id}", response={200: EscalationOut, 404: Error},
            tags=["escalations"])
def get_escalation(request, escalation_id: int):
    return _escalation_out(access_escalation(request.user, escalation_id))


@router.post("/escalations/{escalation_id}/acknowledge",
             response={200: EscalationOut, 403: Error, 404: Error, 409: Error},
             tags=["escalations"], summary="I am handling this (stops further steps)")
def acknowledge(request, escalation_id: int):
    escalation = access_escalation(request.user, escalation_id, action=perms.ACT)
    try:
        escalation = escalations.do_acknowledge(escalation, actor=request.user)
    except escalations.EscalationConflict as error:
        raise HttpError(409, str(error)) from None
    return _escalation_out(escalation)


@router.post("/escalations/{escalation_id}/resolve",
             response={200: EscalationOut, 400: Error, 403: Error, 404: Error, 409: Error},
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


def _policy_out(steps) -> dict:
    return {"steps": [{"after_seconds": s.after_seconds, "notify": s.target,
                       "channels": list(s.channels)} for s in steps]}


@router.get("/teams/{team_id}/escalation-policy", response={200: PolicyIO, 403: Error,
                                                           404: Error}, tags=["teams"],
            summary="The steps a new escalation in this team follows (ESC-01)")
def get_policy(request, team_id: int):
    team = access_team(request.user, team_id)
    if not perms.can(request.user, perms.VIEW, POLICY, team):
        raise PermissionDenied("You cannot see this team's escalation policy.")
    return _policy_out(policy.steps_for(team))


@router.put("/teams/{team_id}/escalation-policy", response={200: PolicyIO, 400: Error,
                                                           403: Error, 404: Error},
            tags=["teams"], summary="Replace the team's escalation steps (ESC-01)")
def put_policy(request, team_id: int, payload: PolicyIO):
    team = access_team(request.user, team_id)
    if not perms.can(request.user, perms.CHANGE, POLICY, team):
        raise PermissionDenied("Only the team's managers can change its escalation policy.")
    try:
        policy.do_set_policy(team, [s.dict() for s in payload.steps], actor=request.user)
    except policy.PolicyError as error:
        raise HttpError(400, f"The policy is not valid: {error}") from None
    return _policy_out(policy.steps_for(team))


@router.delete("/teams/{team_id}/escalation-policy", response={204: None, 403: Error,
                                                              404: Error},
               tags=["teams"], summary="The team follows the trust default again (ESC-01)")
def delete_policy(request, team_id: int):
    team = access_team(request.user, team_id)
    if not perms.can(request.user, perms.CHANGE, POLICY, team):
        raise PermissionDenied("Only the team's managers can change its escalation policy.")
    policy.do_clear_team_policy(team, actor=request.user)
    return Status(204, None)


def _organisation(request, action: str):
    """The caller's organisation, if they may see (or change) its default policy."""
    organisation = access_me(request.user).organisation
    if not perms.can(request.user, action, POLICY, organisation):
        if action == perms.VIEW:
            raise PermissionDenied("You cannot see the trust default escalation policy.")
        raise PermissionDenied("Only the security manager and administrators can change the "
                               "trust default escalation policy.")
    return organisation


@router.get("/escalation-policy", response={200: PolicyIO, 403: Error}, tags=["teams"],
            summary="The trust default: the steps of every team without its own (ESC-01)")
def get_default_policy(request):
    organisation = _organisation(request, perms.VIEW)
    return _policy_out(policy.default_steps(organisation.pk))


@router.put("/escalation-policy", response={200: PolicyIO, 400: Error, 403: Error},
            tags=["teams"], summary="Replace the trust default escalation steps (ESC-01)")
def put_default_policy(request, payload: PolicyIO):
    organisation = _organisation(request, perms.CHANGE)
    try:
        steps = policy.do_set_default_policy(organisation, [s.dict() for s in payload.steps],
                                             actor=request.user)
    except policy.PolicyError as error:
        raise HttpError(400, f"The policy is not valid: {error}") from None
    return _policy_out(steps)
