"""Sessions and check-ins over the JSON API (MOV-01 … MOV-05)."""

from datetime import datetime
from typing import Annotated

from ninja import Router, Schema, Status
from ninja.errors import AuthenticationError, HttpError
from pydantic import Field

from lonewatch.accounts.actions import PresentedToken, TokenRefused
from lonewatch.api.auth import RawBearer
from lonewatch.api.schemas import (
    NHS_NUMBER,
    AccuracyM,
    Id,
    IntervalSeconds,
    Latitude,
    Longitude,
    one_of,
    refusals,
    said,
)
from lonewatch.core import permissions as perms
from lonewatch.org.access import access_me
from lonewatch.org.models import Person
from lonewatch.visits import actions
from lonewatch.visits.access import access_session, timeline
from lonewatch.visits.actions import HighRiskVisit, SessionConflict, SessionError
from lonewatch.visits.models import Companion, Session, SessionEvent, Venue

router = Router()


class SessionIn(Schema):
    kind: one_of(Session.Kind)
    address: said("Enter where you are going.", max_length=300)
    postcode: Annotated[str, Field(max_length=10)] = ""
    place_lat: Latitude | None = None
    place_lon: Longitude | None = None
    service_user_ref: Annotated[str, Field(max_length=60)] = ""
    planned_start: datetime = Field(description="With a time zone: 2026-11-23T09:00:00Z")
    planned_end: datetime = Field(description="After planned_start, and not yet past")
    travel_mode: one_of(Session.Travel) = Session.Travel.CAR
    vehicle: Annotated[str, Field(max_length=200)] = Field(
        "", description="Empty: the vehicle on the worker's record")
    buddy_id: Id = Field(description="The worker's buddy, who has accepted (BUD-01)")
    cover_buddy_id: Id | None = Field(None, description="Needed while the buddy is away "
                                                         "(BUD-02)")
    interval_seconds: IntervalSeconds
    lat: Latitude | None = Field(None, description="Give lat and lon together, or neither")
    lon: Longitude | None = None
    accuracy_m: AccuracyM | None = None
    nhs_number: Annotated[str, Field(max_length=20, pattern=NHS_NUMBER)] = Field(
        "", description="The person visited; spaces and dashes are ignored (PRE-04)")
    venue: one_of(Venue) = Venue.HOME
    companion: one_of(Companion, blank=True) = Field(
        "", description="Who goes along (PRE-04): needed for a high-risk visit unless it "
                        "is at a neutral or secure venue or a manager made an exception")
    companion_name: Annotated[str, Field(max_length=200)] = ""


class EventOut(Schema):
    at: datetime
    kind: one_of(SessionEvent.Kind)
    summary: str
    lat: float | None
    lon: float | None
    accuracy_m: float | None


class SessionOut(Schema):
    id: int
    state: one_of(Session.State)
    due_at: datetime | None
    worker_id: int
    kind: one_of(Session.Kind)
    address: str
    postcode: str
    service_user_ref: str
    planned_start: datetime
    planned_end: datetime
    travel_mode: one_of(Session.Travel)
    vehicle: str
    buddy_id: int
    cover_buddy_id: int | None
    interval_seconds: int
    started_at: datetime
    ended_at: datetime | None
    last_contact_at: datetime
    nhs_number: str
    venue: one_of(Venue)
    companion: str
    companion_name: str
    withdrew_at: datetime | None


class SessionDetail(SessionOut):
    timeline: list[EventOut]


class CheckInIn(Schema):
    lat: Latitude | None = Field(None, description="Give lat and lon together, or neither")
    lon: Longitude | None = None
    accuracy_m: AccuracyM | None = None
    # MOV-02: a check-in is never refused for a long note; the note is cut instead.
    note: str = Field("", description="Shown on the session's timeline, up to 200 "
                                      "characters")


class DueOut(Schema):
    id: int
    state: one_of(Session.State)
    due_at: datetime | None


class ExtendIn(Schema):
    seconds: IntervalSeconds
    # Like a check-in, running late is never refused for a long reason; it is cut instead.
    reason: said("Say why you are running late.") = Field(
        description="Kept up to 500 characters; the rest is cut")


class EndIn(Schema):
    pin: str = Field(description="The check-out PIN, or the duress PIN (MOV-04)")












def _bad(error: SessionError):
    if isinstance(error, HighRiskVisit):
        raise HighRiskRefused(error)
    raise HttpError(409 if isinstance(error, SessionConflict) else 400, str(error))


class HighRiskRefused(HttpError):
    """PRE-04: the 409 of a high-risk visit, with its reasons and ways out."""

    def __init__(self, error: HighRiskVisit):
        super().__init__(409, str(error))
        self.body = {"detail": str(error), "reasons": error.reasons,
                     "requires": error.requires}




def _colleague(person_id, what) -> Person | None:
    if person_id is None:
        return None
    found = Person.objects.select_related("user").filter(pk=person_id).first()
    if found is None:
        raise HttpError(400, f"There is no person with id {person_id} who can be your {what}.")
    return found


@router.post("/sessions", response={201: SessionOut, **refusals(400, 403, 409)},
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


@router.get("/sessions", response={200: list[SessionOut], **refusals(400)}, tags=["sessions"],
            summary="Sessions the caller may see")
def list_sessions(request, state: one_of(Session.State) | None = None):
    found = perms.filter_visible(request.user, Session.objects.all())
    if state is not None:
        found = found.filter(state=state)
    return list(found.order_by("-started_at")[:500])


@router.get("/sessions/{session_id}", response={200: SessionDetail, **refusals(400, 404)},
            tags=["sessions"])
def get_session(request, session_id: int):
    session = access_session(request.user, session_id)
    session.timeline = list(timeline(session, request.user))
    return session


@router.post("/sessions/{session_id}/checkins",
             response={200: DueOut, **refusals(400, 403, 404, 409)},
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


@router.post("/sessions/{session_id}/extend",
             response={200: DueOut, **refusals(400, 403, 404, 409)},
             tags=["sessions"],
             summary="Running late: the next check-in is due `seconds` from now")
def extend(request, session_id: int, payload: ExtendIn):
    session = access_session(request.user, session_id, action=perms.CHANGE)
    try:
        session = actions.do_extend(session, actor=request.user, seconds=payload.seconds,
                                    reason=payload.reason)
    except SessionError as error:
        _bad(error)
    return session


@router.post("/sessions/{session_id}/end",
             response={200: DueOut, **refusals(400, 403, 404, 409)},
             tags=["sessions"],
             summary="Check out with the worker's PIN")
def end(request, session_id: int, payload: EndIn):
    session = access_session(request.user, session_id, action=perms.CHANGE)
    try:
        session = actions.do_end_session(session, actor=request.user, pin=payload.pin)
    except SessionError as error:
        _bad(error)
    return session
