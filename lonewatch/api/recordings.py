"""Recordings as evidence over the JSON API: what is kept and until when, legal holds,
and the destruction log (REC-01, REC-02, REC-03). The audio itself is played through
``/alarms/{id}/recording``."""

from contextlib import contextmanager
from datetime import date, datetime
from typing import Literal

from django.urls import reverse
from ninja import Router, Schema, Status
from ninja.errors import HttpError
from pydantic import Field

from lonewatch import clock
from lonewatch.api.schemas import one_of, refusals
from lonewatch.core import permissions as perms
from lonewatch.core.permissions import CHANGE
from lonewatch.letters import actions as letters
from lonewatch.letters.models import Letter
from lonewatch.org.access import access_me
from lonewatch.recordings import actions, retention
from lonewatch.recordings.access import Destroyed, access_hold, access_kept, access_recording
from lonewatch.recordings.models import (
    AccessRequest,
    Destruction,
    Hold,
    Recording,
    Review,
    SubjectAccessRequest,
)
from lonewatch.recordings.permissions import RECORDING, RETENTION, REVIEW

router = Router(tags=["recordings"])


class HoldOut(Schema):
    id: int
    alarm_id: int
    reason: one_of(Hold.Reason)
    detail: str
    placed_by: str
    placed_at: datetime
    in_force: bool
    released_by: str | None
    released_at: datetime | None
    release_note: str


class TakeOut(Schema):
    take: int
    first_seq: int
    chunks: int
    bytes: int
    seconds: int
    first_received_at: datetime
    last_received_at: datetime


class RecordingOut(Schema):
    alarm_id: int
    alarm_kind: str
    worker_id: int
    worker: str
    format: str
    size: int
    chunks: int
    checksum: str
    seconds: int = Field(description="About how long it is: the span over which each take's "
                                     "parts arrived, added up")
    takes: list[TakeOut]
    positions: int
    rule: one_of(Recording.Rule)
    rule_explained: str
    delete_after: datetime | None
    held: bool
    destroyed_at: datetime | None
    holds: list[HoldOut]


class HoldIn(Schema):
    reason: one_of(Hold.Reason)
    detail: str = Field(..., min_length=1, max_length=500,
                        description="Who asked for the hold, and their reference")


class ReleaseIn(Schema):
    note: str = Field(..., min_length=1, max_length=500,
                      description="Why the hold ends")


class DestructionOut(Schema):
    alarm_id: int
    worker: str
    destroyed_at: datetime
    rule: one_of(Recording.Rule)
    delete_after: datetime
    files: int
    bytes: int
    takes: int
    positions: int
    checksum: str


@contextmanager
def _refused():
    """An action's refusal as the API answers it: bad input 400, a state that does not
    allow it 409."""
    try:
        yield
    except (actions.RecordingError, letters.LetterError) as error:
        raise HttpError(400, str(error)) from None
    except actions.RecordingConflict as error:
        raise HttpError(409, str(error)) from None


def _hold_out(hold: Hold) -> dict:
    return {"id": hold.pk, "alarm_id": hold.recording.alarm_id, "reason": hold.reason,
            "detail": hold.detail, "placed_by": hold.placed_by.username,
            "placed_at": hold.placed_at, "in_force": hold.in_force,
            "released_by": hold.released_by.username if hold.released_by else None,
            "released_at": hold.released_at, "release_note": hold.release_note}


def _recording_out(recording: Recording) -> dict:
    alarm = recording.alarm
    pending = Review.objects.filter(alarm=alarm, decided_at__isnull=True).exists()
    holds = list(recording.holds.select_related("placed_by", "released_by", "recording")) \
        if recording.pk else []
    return {
        "alarm_id": alarm.pk, "alarm_kind": alarm.kind, "worker_id": alarm.worker_id,
        "worker": alarm.worker.full_name, "format": recording.format,
        "size": recording.size, "chunks": recording.chunks, "checksum": recording.checksum,
        "seconds": sum(take.get("seconds", 0) for take in recording.takes),
        "takes": recording.takes, "positions": recording.positions, "rule": recording.rule,
        "rule_explained": retention.decide(alarm, review_pending=pending).why
        if not recording.destroyed else "Destroyed under this rule.",
        "delete_after": recording.delete_after, "held": any(h.in_force for h in holds),
        "destroyed_at": recording.destroyed_at, "holds": [_hold_out(h) for h in holds],
    }


def _recording(user, alarm_id: int, action=perms.VIEW) -> Recording:
    """The recording's record (kept or destroyed) for someone who may see it."""
    try:
        return access_recording(user, alarm_id, action=action)
    except Destroyed as gone:
        return gone.recording


@router.get("/recordings", response={200: list[RecordingOut], **refusals(400, 403)},
            summary="Recordings kept and destroyed, newest alarm first (the security "
                    "manager's)")
def list_recordings(request, state: Literal["kept", "held", "destroyed"] | None = None):
    if not perms.can_anywhere(request.user, perms.VIEW, RETENTION):
        raise HttpError(403, "Only the security manager sees the recordings kept.")
    found = perms.filter_visible(request.user, Recording.objects.select_related(
        "alarm__worker"), kind=RECORDING)
    if state == "kept":
        found = found.filter(destroyed_at__isnull=True)
    elif state == "held":
        found = found.filter(actions.held(), destroyed_at__isnull=True)
    elif state == "destroyed":
        found = found.filter(destroyed_at__isnull=False)
    return [_recording_out(r) for r in found.order_by("-alarm__raised_at")[:500]]


@router.get("/recordings/{alarm_id}", response={200: RecordingOut, **refusals(400, 403, 404)},
            summary="What is kept of an alarm's recording, under which rule and until when")
def get_recording_record(request, alarm_id: int):
    return _recording_out(_recording(request.user, alarm_id))


@router.post("/recordings/{alarm_id}/holds",
             response={201: HoldOut, **refusals(400, 403, 404, 409)},
             summary="Place a legal hold: the recording is not destroyed until it is released")
def place_hold(request, alarm_id: int, payload: HoldIn):
    with _refused():
        hold = actions.do_place_hold(_kept(request.user, alarm_id), actor=request.user,
                                     reason=payload.reason, detail=payload.detail)
    return Status(201, _hold_out(hold))


@router.post("/recording-holds/{hold_id}/release",
             response={200: HoldOut, **refusals(400, 403, 404, 409)},
             summary="Release a legal hold: the recording's own date applies again")
def release_hold(request, hold_id: int, payload: ReleaseIn):
    hold = access_hold(request.user, hold_id)
    with _refused():
        hold = actions.do_release_hold(hold, actor=request.user, note=payload.note)
    return _hold_out(hold)


@router.get("/recording-destructions", response={200: list[DestructionOut], **refusals(403)},
            summary="The destruction log: what was destroyed, when and under which rule")
def destruction_log(request):
    if not perms.can_anywhere(request.user, perms.VIEW, RETENTION):
        raise HttpError(403, "Only the security manager reads the destruction log.")
    me = access_me(request.user)
    return [{"alarm_id": d.alarm_id, "worker": d.worker, "destroyed_at": d.destroyed_at,
             "rule": d.rule, "delete_after": d.delete_after, "files": d.files,
             "bytes": d.bytes, "takes": d.takes, "positions": d.positions,
             "checksum": d.checksum}
            for d in Destruction.objects.filter(organisation_id=me.organisation_id)[:1000]]


# --- the security manager's reviews (REC-04) ---------------------------------------------

class ReviewOut(Schema):
    id: int
    alarm_id: int
    worker: str
    reason: one_of(Review.Reason)
    opened_at: datetime
    due_at: datetime
    overdue: bool
    decision: one_of(Review.Decision, blank=True)
    decisions: list[one_of(Review.Decision)]
    note: str
    decided_by: str | None
    decided_at: datetime | None
    exemption_agreed_by: str | None
    exemption_reason: str
    letters: list[int]


class DecideIn(Schema):
    decision: one_of(Review.Decision)
    note: str = Field("", max_length=5000,
                      description="Required for a referral: to whom, with its reference")
    recipient_name: str = Field("", max_length=200,
                                description="For a sanction or notification letter")
    recipient_address: str = Field("", max_length=1000,
                                   description="For a sanction or notification letter")
    incident_place: str = Field("", max_length=300,
                                description="Where it happened; empty: the visit's address")


class ExemptionIn(Schema):
    reason: str = Field(..., min_length=1, max_length=2000,
                        description="The clinician's reason, for this case")


def _review_out(review: Review) -> dict:
    def who(user):
        return user.username if user else None

    return {"id": review.pk, "alarm_id": review.alarm_id,
            "worker": review.alarm.worker.full_name, "reason": review.reason,
            "opened_at": review.opened_at, "due_at": review.due_at,
            "overdue": review.open and review.due_at <= clock.now(),
            "decision": review.decision, "decisions": review.decisions, "note": review.note,
            "decided_by": who(review.decided_by), "decided_at": review.decided_at,
            "exemption_agreed_by": who(review.exemption_agreed_by),
            "exemption_reason": review.exemption_reason,
            "letters": list(Letter.objects.filter(about_kind="review", about_id=review.pk)
                            .values_list("pk", flat=True))}


def _review(user, review_id: int) -> Review:
    found = Review.objects.select_related("alarm__worker__team", "decided_by",
                                          "exemption_agreed_by").filter(pk=review_id).first()
    if found is None or not perms.can(user, perms.VIEW, REVIEW, found):
        raise HttpError(404, "No such review, or not one you can see.")
    return found


@router.get("/reviews", response={200: list[ReviewOut], **refusals(400, 403)},
            summary="The security manager's review queue (REC-04), oldest due first")
def list_reviews(request, state: Literal["open", "decided"] | None = None):
    if not perms.can_anywhere(request.user, perms.VIEW, REVIEW):
        raise HttpError(403, "The review queue is the security manager's.")
    found = perms.filter_visible(request.user, Review.objects.select_related(
        "alarm__worker", "decided_by", "exemption_agreed_by"), kind=REVIEW)
    if state == "open":
        found = found.filter(decided_at__isnull=True)
    elif state == "decided":
        found = found.filter(decided_at__isnull=False)
    return [_review_out(r) for r in found.order_by("due_at")[:500]]


@router.post("/reviews/{review_id}/decide",
             response={200: ReviewOut, **refusals(400, 403, 404, 409)},
             summary="Record the review's outcome; a letter is made with it where asked")
def decide_review(request, review_id: int, payload: DecideIn):
    review = _review(request.user, review_id)
    with _refused():
        review = actions.do_decide_review(review, actor=request.user, **payload.dict())
    return _review_out(_review(request.user, review.pk))


@router.post("/reviews/{review_id}/exemption",
             response={200: ReviewOut, **refusals(400, 403, 404, 409)},
             summary="An independent senior clinician agrees a clinical exemption")
def agree_exemption(request, review_id: int, payload: ExemptionIn):
    review = _review(request.user, review_id)
    with _refused():
        actions.do_agree_exemption(review, actor=request.user, reason=payload.reason)
    return _review_out(_review(request.user, review.pk))


# --- police requests (REC-03) and subject access requests (REC-06) ------------------------

class AccessRequestIn(Schema):
    officer: str = Field(..., min_length=1, max_length=200,
                         description="The officer's name, rank and number")
    force: str = Field(..., min_length=1, max_length=200)
    crime_reference: str = Field(..., min_length=1, max_length=100)
    reason: str = Field(..., min_length=1, max_length=2000)
    officer_email: str = Field("", max_length=254)


class ApproveIn(Schema):
    days: int = Field(..., ge=1, le=actions.POLICE_LINK_DAYS,
                      description="How many days the link works")
    uses: int = Field(..., ge=1, le=actions.POLICE_LINK_USES,
                      description="How many downloads it allows")
    note: str = Field("", max_length=500)


class AccessRequestOut(Schema):
    id: int
    alarm_id: int
    officer: str
    force: str
    crime_reference: str
    reason: str
    state: one_of(AccessRequest.State)
    entered_at: datetime
    decided_at: datetime | None
    expires_at: datetime | None
    uses_allowed: int
    uses: int
    link: str | None = Field(None, description="Given once, when approved")


class SubjectAccessIn(Schema):
    requester: str = Field(..., min_length=1, max_length=200)
    received_on: date


class SubjectAccessCloseIn(Schema):
    outcome: one_of(SubjectAccessRequest.Outcome)
    note: str = Field("", max_length=5000,
                      description="Required when withheld in part or refused")


class SubjectAccessOut(Schema):
    id: int
    alarm_id: int
    requester: str
    received_on: date
    due_on: date
    outcome: one_of(SubjectAccessRequest.Outcome, blank=True)
    outcome_note: str
    closed_at: datetime | None


def _access_out(found: AccessRequest, link: str | None = None) -> dict:
    return {"id": found.pk, "alarm_id": found.recording.alarm_id, "officer": found.officer,
            "force": found.force, "crime_reference": found.crime_reference,
            "reason": found.reason, "state": found.state, "entered_at": found.entered_at,
            "decided_at": found.decided_at, "expires_at": found.expires_at,
            "uses_allowed": found.uses_allowed, "uses": found.uses, "link": link}


def _sar_out(sar: SubjectAccessRequest) -> dict:
    return {"id": sar.pk, "alarm_id": sar.recording.alarm_id, "requester": sar.requester,
            "received_on": sar.received_on, "due_on": sar.due_on, "outcome": sar.outcome,
            "outcome_note": sar.outcome_note, "closed_at": sar.closed_at}


def _kept(user, alarm_id: int) -> Recording:
    try:
        return access_kept(user, alarm_id)
    except Destroyed as gone:
        raise HttpError(409, str(gone)) from None


@router.post("/recordings/{alarm_id}/access-requests",
             response={201: AccessRequestOut, **refusals(400, 403, 404, 409)},
             summary="Record a police request for a recording; it waits for approval")
def request_access(request, alarm_id: int, payload: AccessRequestIn):
    recording = _kept(request.user, alarm_id)
    with _refused():
        found = actions.do_request_access(recording, actor=request.user, **payload.dict())
    return Status(201, _access_out(found))


def _access_request(user, access_id: int) -> AccessRequest:
    found = AccessRequest.objects.select_related("recording__alarm__worker__team").filter(
        pk=access_id).first()
    if found is None or not perms.can(user, perms.VIEW, RECORDING, found.recording):
        raise HttpError(404, "No such request, or not one you can see.")
    return found


@router.post("/recording-access-requests/{access_id}/approve",
             response={200: AccessRequestOut, **refusals(400, 403, 404, 409)},
             summary="Approve a police request: the answer carries the link, once")
def approve_access(request, access_id: int, payload: ApproveIn):
    found = _access_request(request.user, access_id)
    with _refused():
        found, secret = actions.do_approve_access(found, actor=request.user,
                                                  days=payload.days, uses=payload.uses,
                                                  note=payload.note)
    return _access_out(found, request.build_absolute_uri(reverse("police_link",
                                                                 args=[secret])))


@router.post("/recordings/{alarm_id}/subject-access-requests",
             response={201: SubjectAccessOut, **refusals(400, 403, 404, 409)},
             summary="Log a subject access request: due in one calendar month, and the "
                     "recording is held until it is closed")
def log_subject_access(request, alarm_id: int, payload: SubjectAccessIn):
    recording = _kept(request.user, alarm_id)
    with _refused():
        sar = actions.do_log_subject_access(recording, actor=request.user,
                                            requester=payload.requester,
                                            received_on=payload.received_on)
    return Status(201, _sar_out(sar))


@router.post("/subject-access-requests/{sar_id}/close",
             response={200: SubjectAccessOut, **refusals(400, 403, 404, 409)},
             summary="Close a subject access request with its outcome (its hold ends)")
def close_subject_access(request, sar_id: int, payload: SubjectAccessCloseIn):
    found = SubjectAccessRequest.objects.select_related(
        "recording__alarm__worker__team").filter(pk=sar_id).first()
    if found is None or not perms.can(request.user, perms.VIEW, RECORDING, found.recording):
        raise HttpError(404, "No such request, or not one you can see.")
    if not perms.can(request.user, CHANGE, RECORDING, found.recording):
        raise HttpError(403, "Only the security manager closes a subject access request.")
    with _refused():
        sar = actions.do_close_subject_access(found, actor=request.user,
                                              outcome=payload.outcome, note=payload.note)
    return _sar_out(sar)
