"""The day's plan, and what a worker does during a visit, over the JSON API (MOV-01,
PRE-04, PRE-05, PRE-06)."""

from datetime import datetime, timedelta
from typing import Literal

from django.utils import timezone
from ninja import Query, Router, Schema, Status
from ninja.errors import HttpError
from pydantic import Field

from lonewatch import clock
from lonewatch.alarms.access import access_alarm
from lonewatch.api.markers import MarkerOut, PrecheckOut, marker_out, precheck_out
from lonewatch.api.schemas import (
    NHS_NUMBER,
    POSTCODE,
    AccuracyM,
    Id,
    IntervalSeconds,
    Latitude,
    Longitude,
    one_of,
    refusals,
)
from lonewatch.api.sessions import SessionOut, _bad, _colleague
from lonewatch.core import permissions as perms
from lonewatch.markers import access as markers
from lonewatch.markers import actions as marker_actions
from lonewatch.org.access import access_me
from lonewatch.visits import actions
from lonewatch.visits.access import access_planned_visit, access_session
from lonewatch.visits.actions import SessionError
from lonewatch.visits.models import Companion, Flag, PlannedVisit, Session, Venue

router = Router(tags=["visits"])


class VisitIn(Schema):
    address: str = Field(..., min_length=1, max_length=300, pattern=r"\S",
                         description="Where the visit is")
    postcode: str = Field("", max_length=10, pattern=POSTCODE)
    service_user_ref: str = Field("", max_length=60,
                                  description="The person visited, by a local reference")
    nhs_number: str = Field("", max_length=20, pattern=NHS_NUMBER,
                            description="The person visited; spaces and dashes are ignored")
    planned_start: datetime = Field(description="With a time zone: 2026-11-23T09:00:00Z")
    planned_end: datetime = Field(description="After planned_start, and not yet past")
    travel_mode: one_of(Session.Travel) = Session.Travel.CAR
    buddy_id: Id = Field(description="The worker's buddy, who has accepted (BUD-01)")
    venue: one_of(Venue) = Venue.HOME
    companion: one_of(Companion, blank=True) = ""
    companion_name: str = Field("", max_length=200)


class VisitOut(Schema):
    id: int
    state: one_of(PlannedVisit.State)
    worker_id: int
    buddy_id: int
    address: str
    postcode: str
    service_user_ref: str
    nhs_number: str
    planned_start: datetime
    planned_end: datetime
    travel_mode: one_of(Session.Travel)
    venue: one_of(Venue)
    companion: str
    companion_name: str
    risk: Literal["low", "high"]
    exception_reason: str
    exception_at: datetime | None
    briefed_at: datetime | None
    session_id: int | None
    cancelled_at: datetime | None
    cancel_reason: str


class PlannedOut(VisitOut):
    precheck: PrecheckOut


class VisitCancelIn(Schema):
    reason: str = Field("", max_length=300)


class MoveIn(Schema):
    planned_start: datetime | None = None
    planned_end: datetime | None = None
    address: str | None = Field(None, max_length=300, pattern=r"\S",
                                description="A new place, such as a neutral or secure one")
    postcode: str | None = Field(None, max_length=10, pattern=POSTCODE)
    venue: one_of(Venue) | None = None


class CompanyIn(Schema):
    companion: one_of(Companion, blank=True) = Field(
        description="Who goes along; empty: nobody")
    companion_name: str = Field("", max_length=200,
                                description="Their name, or the police reference")


class ExceptionIn(Schema):
    reason: str = Field(..., min_length=10, max_length=2000, pattern=r"\S",
                        description="Why this high-risk visit may go ahead alone")


class StartIn(Schema):
    interval_seconds: IntervalSeconds | None = Field(
        None, description="Empty: the usual interval; a high-risk visit's is shorter")
    cover_buddy_id: Id | None = None
    lat: Latitude | None = None
    lon: Longitude | None = None
    accuracy_m: AccuracyM | None = None


class FlagsIn(Schema):
    signs: list[one_of(Flag.Sign)] = Field(..., min_length=1, max_length=7)
    lat: Latitude | None = None
    lon: Longitude | None = None
    accuracy_m: AccuracyM | None = None


class FlagOut(Schema):
    id: int
    sign: one_of(Flag.Sign)
    at: datetime


class WithdrawIn(Schema):
    lat: Latitude | None = None
    lon: Longitude | None = None
    accuracy_m: AccuracyM | None = None


class ProposeIn(Schema):
    note: str = Field("", max_length=1000)


def _guarded(call, *args, **kwargs):
    try:
        return call(*args, **kwargs)
    except SessionError as error:
        _bad(error)
    except marker_actions.MarkerError as error:
        raise HttpError(400, str(error)) from None


def _planned(visit: PlannedVisit, user) -> dict:
    found = markers.precheck_for(user, deciding=visit, nhs_number=visit.nhs_number,
                                 local_id=visit.service_user_ref, postcode=visit.postcode,
                                 address=visit.address)
    return {**VisitOut.from_orm(visit).dict(), "precheck": precheck_out(found)}


@router.get("/visits", response={200: list[VisitOut], **refusals(400)},
            summary="Planned visits the caller may see: their own, or as buddy or manager")
def list_visits(request, day: str = Query("", pattern=r"^(\d{4}-\d{2}-\d{2})?$",
                                          description="One day (YYYY-MM-DD); empty: from "
                                                      "today on"),
                worker_id: Id | None = None,
                state: one_of(PlannedVisit.State) | None = None):
    found = perms.filter_visible(request.user, PlannedVisit.objects.all())
    if day:
        try:
            start = timezone.make_aware(datetime.fromisoformat(day))
        except ValueError:
            raise HttpError(400, "day must be a real date, such as 2026-11-30.") from None
        found = found.filter(planned_start__gte=start,
                             planned_start__lt=start + timedelta(days=1))
    else:
        found = found.filter(planned_end__gte=timezone.localtime(clock.now()).replace(
            hour=0, minute=0, second=0, microsecond=0))
    if worker_id is not None:
        found = found.filter(worker_id=worker_id)
    if state is not None:
        found = found.filter(state=state)
    return list(found.order_by("planned_start", "id")[:500])


@router.post("/visits", response={201: PlannedOut, **refusals(400, 403)},
             summary="Plan a visit (MOV-01); the answer carries its pre-visit check (PRE-04)")
def plan_visit(request, payload: VisitIn):
    me = access_me(request.user)
    values = payload.dict()
    buddy = _colleague(values.pop("buddy_id"), "buddy")
    visit, _ = _guarded(actions.do_plan_visit, me, actor=request.user, buddy=buddy, **values)
    return Status(201, _planned(visit, request.user))


@router.get("/visits/{visit_id}", response={200: PlannedOut, **refusals(400, 404)},
            summary="A planned visit, with its pre-visit check")
def get_visit(request, visit_id: int):
    return _planned(access_planned_visit(request.user, visit_id), request.user)


@router.post("/visits/{visit_id}/cancel", response={200: VisitOut, **refusals(400, 403, 404,
                                                                               409)},
             summary="Cancel a planned visit; the buddy is told (MOV-01)")
def cancel_visit(request, visit_id: int, payload: VisitCancelIn):
    visit = access_planned_visit(request.user, visit_id, action=perms.CHANGE)
    return _guarded(actions.do_cancel_visit, visit, actor=request.user, reason=payload.reason)


@router.post("/visits/{visit_id}/move", response={200: PlannedOut, **refusals(400, 403, 404,
                                                                               409)},
             summary="Move a planned visit to another time or place; the buddy is told")
def move_visit(request, visit_id: int, payload: MoveIn):
    visit = access_planned_visit(request.user, visit_id, action=perms.CHANGE)
    visit, _ = _guarded(actions.do_move_visit, visit, actor=request.user, **payload.dict())
    return _planned(visit, request.user)


@router.post("/visits/{visit_id}/company",
             response={200: PlannedOut, **refusals(400, 403, 404, 409)},
             summary="Record who goes with the worker (PRE-04): a way out for a high-risk "
                     "visit")
def record_company(request, visit_id: int, payload: CompanyIn):
    visit = access_planned_visit(request.user, visit_id, action=perms.CHANGE)
    return _planned(_guarded(actions.do_record_company, visit, actor=request.user,
                             **payload.dict()), request.user)


@router.post("/visits/{visit_id}/exception",
             response={200: VisitOut, **refusals(400, 403, 404, 409)},
             summary="A manager lets a high-risk visit go ahead alone, with a reason (PRE-04)")
def approve_exception(request, visit_id: int, payload: ExceptionIn):
    visit = access_planned_visit(request.user, visit_id, action=perms.ACT)
    return _guarded(actions.do_approve_exception, visit, actor=request.user,
                    reason=payload.reason)


@router.post("/visits/{visit_id}/briefing",
             response={200: VisitOut, **refusals(400, 403, 404, 409)},
             summary="The worker confirms the briefing and the emergency equipment (PRE-05)")
def confirm_briefing(request, visit_id: int):
    visit = access_planned_visit(request.user, visit_id, action=perms.CHANGE)
    return _guarded(actions.do_confirm_briefing, visit, actor=request.user)


@router.post("/visits/{visit_id}/start",
             response={201: SessionOut, **refusals(400, 403, 404, 409)},
             summary="Start a planned visit in one tap: it becomes the session (MOV-01)")
def start_visit(request, visit_id: int, payload: StartIn):
    visit = access_planned_visit(request.user, visit_id, action=perms.CHANGE)
    values = payload.dict()
    cover = _colleague(values.pop("cover_buddy_id"), "cover buddy")
    session = _guarded(actions.do_start_planned, visit, actor=request.user,
                       cover_buddy=cover, **values)
    return Status(201, session)


@router.post("/sessions/{session_id}/flags",
             response={201: list[FlagOut], **refusals(400, 403, 404, 409)}, tags=["sessions"],
             summary="Warning signs seen during a visit (PRE-06)")
def flag(request, session_id: int, payload: FlagsIn):
    session = access_session(request.user, session_id, action=perms.CHANGE)
    return Status(201, _guarded(actions.do_flag, session, actor=request.user,
                                **payload.dict()))


@router.post("/sessions/{session_id}/withdraw",
             response={200: SessionOut, **refusals(400, 403, 404, 409)}, tags=["sessions"],
             summary="Withdrawing now (PRE-06): the buddy is told and the next check-in is "
                     "due sooner")
def withdraw(request, session_id: int, payload: WithdrawIn):
    session = access_session(request.user, session_id, action=perms.CHANGE)
    return _guarded(actions.do_withdraw, session, actor=request.user, **payload.dict())


@router.post("/sessions/{session_id}/propose-marker",
             response={201: MarkerOut, **refusals(400, 403, 404)}, tags=["markers"],
             summary="Propose the visit's warning signs as a new risk marker (PRE-06)")
def propose_marker(request, session_id: int, payload: ProposeIn):
    session = access_session(request.user, session_id)
    marker = _guarded(marker_actions.do_propose_marker, session, actor=request.user,
                      note=payload.note)
    return Status(201, marker_out(marker))


@router.get("/sessions/{session_id}/markers",
            response={200: list[MarkerOut], **refusals(400, 404)}, tags=["markers"],
            summary="A running visit's risk markers, for its worker, buddy and managers")
def session_markers(request, session_id: int):
    session = access_session(request.user, session_id)
    return [marker_out(m) for m in markers.for_session(request.user, session)]


@router.get("/alarms/{alarm_id}/markers",
            response={200: list[MarkerOut], **refusals(400, 404)}, tags=["markers"],
            summary="The risk markers at an open alarm's place, for the alarm centre")
def alarm_markers(request, alarm_id: int):
    alarm = access_alarm(request.user, alarm_id)
    return [marker_out(m) for m in markers.for_alarm(request.user, alarm)]

