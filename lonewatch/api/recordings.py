"""Recordings as evidence over the JSON API: what is kept and until when, legal holds,
and the destruction log (REC-01, REC-02, REC-03). The audio itself is played through
``/alarms/{id}/recording``."""

from datetime import datetime
from typing import Literal

from ninja import Router, Schema, Status
from ninja.errors import HttpError
from pydantic import Field

from lonewatch.api.schemas import one_of, refusals
from lonewatch.core import permissions as perms
from lonewatch.core.permissions import CHANGE
from lonewatch.org.access import access_me
from lonewatch.recordings import actions, retention
from lonewatch.recordings.access import Destroyed, access_hold, access_recording
from lonewatch.recordings.models import Destruction, Hold, Recording, Review
from lonewatch.recordings.permissions import RECORDING, RETENTION

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
        found = found.filter(destroyed_at__isnull=True,
                             holds__released_at__isnull=True).distinct()
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
    recording = _recording(request.user, alarm_id, action=CHANGE)
    if recording.pk is None:
        recording = actions.recording_of(recording.alarm)
    try:
        hold = actions.do_place_hold(recording, actor=request.user, reason=payload.reason,
                                     detail=payload.detail)
    except actions.RecordingError as error:
        raise HttpError(400, str(error)) from None
    except actions.RecordingConflict as error:
        raise HttpError(409, str(error)) from None
    return Status(201, _hold_out(hold))


@router.post("/recording-holds/{hold_id}/release",
             response={200: HoldOut, **refusals(400, 403, 404, 409)},
             summary="Release a legal hold: the recording's own date applies again")
def release_hold(request, hold_id: int, payload: ReleaseIn):
    hold = access_hold(request.user, hold_id)
    try:
        hold = actions.do_release_hold(hold, actor=request.user, note=payload.note)
    except actions.RecordingError as error:
        raise HttpError(400, str(error)) from None
    except actions.RecordingConflict as error:
        raise HttpError(409, str(error)) from None
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
