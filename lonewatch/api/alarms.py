"""Amber and red alerts and their handling over the JSON API (ALM-01 … ALM-05, MOV-04)."""

from datetime import datetime
from typing import Annotated, Literal

from django.conf import settings
from django.http import HttpResponse
from ninja import Header, Query, Router, Schema, Status
from ninja.errors import HttpError
from pydantic import Field

from lonewatch.alarms import actions, audio, stream, worker_view
from lonewatch.alarms.access import access_alarm
from lonewatch.alarms.models import Alarm
from lonewatch.api.auth import BearerToken, SignedInSession
from lonewatch.api.schemas import AccuracyM, Latitude, Longitude, one_of, refusals
from lonewatch.core import permissions as perms
from lonewatch.core.sse import event_stream
from lonewatch.org.access import access_me
from lonewatch.recordings.access import Destroyed, access_recording
from lonewatch.visits.actions import SessionError

router = Router(tags=["alarms"])


class RaiseIn(Schema):
    # ALM-01/02: an alert is never refused for a long message; the message is cut instead.
    message: str = Field("", description="Kept up to 500 characters; the rest is cut")
    lat: Latitude | None = Field(None, description="Give lat and lon together, or neither")
    lon: Longitude | None = None
    accuracy_m: AccuracyM | None = None
    discreet: bool = False
    # ALM-07: an external device (a pendant, a body-worn unit) sends with its own token.
    device: bool = False


class AlarmOut(Schema):
    id: int
    kind: one_of(Alarm.Kind)
    state: one_of(Alarm.State)
    source: one_of(Alarm.Source)
    worker_id: int
    session_id: int | None
    raised_at: datetime
    message: str
    lat: float | None
    lon: float | None
    accuracy_m: float | None
    acknowledged_at: datetime | None
    category: one_of(Alarm.Category, blank=True)
    duress_suspected: bool
    emergency_reference: str
    drill: bool


class AlarmEventOut(Schema):
    at: datetime
    kind: str
    summary: str


class AlarmDetail(AlarmOut):
    timeline: list[AlarmEventOut]


# Handling an alarm is never refused for a long note: the timeline shows its start.
Note = Annotated[str, Field(description="Shown on the alarm's timeline, shortened if long")]


class NoteIn(Schema):
    note: Note = ""


class EscalateIn(Schema):
    to: Literal[tuple(actions.ESCALATE_TO)]
    reference: str = Field("", description="The emergency services' incident reference: "
                                            "needed when `to` is emergency_services; kept up "
                                            "to 100 characters")
    note: Note = ""


class CloseIn(Schema):
    category: one_of(Alarm.Category)
    worker_agreed: bool | None = Field(None, description="Must be true to close as "
                                                         "false_alarm (ALM-05)")
    note: Note = ""


class RecategoriseIn(Schema):
    category: one_of(Alarm.Category)
    note: Note = ""


class CancelIn(Schema):
    pin: str = Field(description="The check-out PIN, or the duress PIN (MOV-04)")


class CancelOut(Schema):
    id: int
    cancelled: bool


class ChunkOut(Schema):
    seq: int
    size: int
    received: int
    # The chunk begins with its container's header: a fresh recording (a take) starts.
    starts_take: bool


class AudioTakeOut(Schema):
    take: int
    first_seq: int
    parts: int
    bytes: int
    waiting: int
    last_received_at: datetime


class AudioReceivedOut(Schema):
    content_type: Literal[audio.CONTENT_TYPES] | None
    received: int
    takes: list[AudioTakeOut]


class LocationIn(Schema):
    lat: Latitude
    lon: Longitude
    accuracy_m: AccuracyM | None = None


def _raise(request, kind, payload: RaiseIn):
    me = access_me(request.user)
    source = (Alarm.Source.DEVICE if payload.device else
              Alarm.Source.DISCREET if payload.discreet else Alarm.Source.APP)
    try:
        return actions.do_raise(me, actor=request.user, kind=kind, source=source,
                                message=payload.message, lat=payload.lat, lon=payload.lon,
                                accuracy_m=payload.accuracy_m)
    except (SessionError, actions.AlarmError) as error:
        raise HttpError(400, str(error)) from None


@router.post("/ambers", response={201: AlarmOut, **refusals(400, 403)},
             summary="Amber alert (ALM-01): logged with location and a message")
def raise_amber(request, payload: RaiseIn):
    return Status(201, _raise(request, Alarm.Kind.AMBER, payload))


@router.post("/alarms", response={201: AlarmOut, **refusals(400, 403)},
             summary="Red alert (ALM-02): committed before this answer, then to the console")
def raise_red(request, payload: RaiseIn):
    return Status(201, _raise(request, Alarm.Kind.RED, payload))


@router.get("/alarms", response={200: list[AlarmOut], **refusals(400)})
def list_alarms(request, state: one_of(Alarm.State) | None = None):
    found = perms.filter_visible(request.user, Alarm.objects.all())
    if state is not None:
        found = found.filter(state=state)
    return [worker_view.seen_by(request.user, alarm)
            for alarm in found.order_by("-raised_at")[:500]]


@router.get("/alarms/events", summary="Server-sent events: `alarm.<kind>` per change, "
            "with the alarm's JSON; `Last-Event-ID` resumes after a disconnection",
            response={200: None, **refusals()},
            openapi_extra={"responses": {200: {
                "description": "Events as they happen, for as long as the client listens",
                "content": {"text/event-stream": {"schema": {"type": "string"}}}}}})
def alarm_events(request, last_event_id: str | None = Header(
        None, alias="Last-Event-ID", description="The id of the last event received")):
    return event_stream(stream.events(request.user, last_event_id))


@router.get("/alarms/{alarm_id}", response={200: AlarmDetail, **refusals(400, 404)})
def get_alarm(request, alarm_id: int):
    return worker_view.seen_by(request.user, access_alarm(request.user, alarm_id))


def _act(request, alarm_id, fn, **kwargs):
    alarm = access_alarm(request.user, alarm_id, action=perms.ACT)
    try:
        return fn(alarm, actor=request.user, **kwargs)
    except actions.AlarmConflict as error:
        raise HttpError(409, str(error)) from None
    except actions.AlarmError as error:
        raise HttpError(400, str(error)) from None


ACT = {200: AlarmOut, **refusals(400, 403, 404, 409)}


@router.post("/alarms/{alarm_id}/acknowledge", response=ACT)
def acknowledge(request, alarm_id: int, payload: NoteIn | None = None):
    return _act(request, alarm_id, actions.do_acknowledge, note=payload.note if payload else "")


@router.post("/alarms/{alarm_id}/assess", response=ACT)
def assess(request, alarm_id: int, payload: NoteIn | None = None):
    return _act(request, alarm_id, actions.do_assess, note=payload.note if payload else "")


@router.post("/alarms/{alarm_id}/escalate", response=ACT)
def escalate(request, alarm_id: int, payload: EscalateIn):
    return _act(request, alarm_id, actions.do_escalate, to=payload.to,
                reference=payload.reference, note=payload.note)


@router.post("/alarms/{alarm_id}/close", response=ACT)
def close(request, alarm_id: int, payload: CloseIn):
    return _act(request, alarm_id, actions.do_close, category=payload.category,
                worker_agreed=payload.worker_agreed, note=payload.note)


@router.post("/alarms/{alarm_id}/flag-duress", response=ACT)
def flag_duress(request, alarm_id: int, payload: NoteIn | None = None):
    return _act(request, alarm_id, actions.do_flag_duress, note=payload.note if payload else "")


@router.post("/alarms/{alarm_id}/recategorise", response=ACT)
def recategorise(request, alarm_id: int, payload: RecategoriseIn):
    return _act(request, alarm_id, actions.do_recategorise, category=payload.category,
                note=payload.note)


@router.post("/alarms/{alarm_id}/cancel",
             response={200: CancelOut, **refusals(400, 403, 404, 409)},
             summary="The worker cancels within the cancel window (the duress PIN answers "
                     "alike)")
def cancel(request, alarm_id: int, payload: CancelIn):
    alarm = access_alarm(request.user, alarm_id)
    try:
        actions.do_cancel(alarm, actor=request.user, pin=payload.pin)
    except actions.AlarmConflict as error:
        raise HttpError(409, str(error)) from None
    except actions.AlarmError as error:
        raise HttpError(400, str(error)) from None
    # The same answer for the PIN and the duress PIN: nothing on the phone tells them apart.
    return {"id": alarm.pk, "cancelled": True}


@router.post("/alarms/{alarm_id}/audio",
             response={201: ChunkOut, **refusals(400, 403, 404, 409, 413, 415)},
             summary="A chunk of audio (the body, with its Content-Type) at position `seq`",
             description=f"The first chunk (`seq` 0) must begin as its type does; every chunk "
                         f"has the same type and at most {settings.ALARM_AUDIO_CHUNK_BYTES} "
                         f"bytes. A chunk sent again with the same bytes changes nothing.",
             openapi_extra={"requestBody": {"required": True, "content": {
                 content_type: {"schema": {"type": "string", "format": "binary",
                                           "minLength": 1}}
                 for content_type in audio.CONTENT_TYPES}}})
def add_audio(request, alarm_id: int,
              seq: int = Query(ge=0, le=audio.MAX_SEQ, description="The chunk's position")):
    alarm = access_alarm(request.user, alarm_id)
    try:
        audio.check_size(request.headers.get("Content-Length"))  # before the body is read
        chunk = audio.add_chunk(alarm, actor=request.user, seq=seq,
                                content_type=request.content_type, data=request.body)
    except audio.AudioError as error:
        raise HttpError(error.status, str(error)) from None
    return Status(201, {"seq": chunk.seq, "size": chunk.size,
                        "received": alarm.audio_chunks.count(),
                        "starts_take": chunk.starts_take})


def _recording_of(user, alarm_id: int):
    try:
        return access_recording(user, alarm_id)
    except Destroyed as gone:
        raise HttpError(410, str(gone)) from None


@router.get("/alarms/{alarm_id}/recording",
            response={200: None, **refusals(400, 403, 404, 410)},
            summary="One take of the recording so far (every read is audited)",
            description="Operators on duty hear an alarm's recording until the alarm is "
                        "closed; after that only the security manager (403 to others who "
                        "can see the alarm). 410 once the recording has been destroyed "
                        "under its retention rule. "
                        "`X-Lonewatch-Takes` says how many takes there are, "
                        "`X-Lonewatch-Take-Parts` and `X-Lonewatch-Take-Bytes` how long each "
                        "is (comma-separated, take 1 first), `X-Lonewatch-Take` which one "
                        "this is and `X-Chunks-Waiting` how many of its chunks wait behind "
                        "a gap.",
            openapi_extra={"responses": {200: {"description": "The take's audio", "content": {
                content_type: {"schema": {"type": "string", "format": "binary"}}
                for content_type in audio.CONTENT_TYPES}}}},
            # The console plays it with the operator's signed-in session.
            auth=[BearerToken(), SignedInSession()])
def get_recording(request, alarm_id: int,
                  take: int = Query(1, ge=1, description="Which take, from 1")):
    alarm = _recording_of(request.user, alarm_id).alarm
    try:
        data, content_type, takes = audio.recording(alarm, actor=request.user, take=take)
    except audio.AudioError as error:
        raise HttpError(error.status, str(error)) from None
    response = HttpResponse(data, content_type=content_type)
    response["X-Lonewatch-Take"] = str(take)
    response["X-Lonewatch-Takes"] = str(len(takes))
    response["X-Lonewatch-Take-Parts"] = ", ".join(str(len(t.parts)) for t in takes)
    response["X-Lonewatch-Take-Bytes"] = ", ".join(str(t.size) for t in takes)
    response["X-Chunks-Waiting"] = str(takes[take - 1].waiting if takes else 0)
    response["Cache-Control"] = "no-store"
    return response


@router.get("/alarms/{alarm_id}/recording/takes",
            response={200: AudioReceivedOut, **refusals(400, 403, 404, 410)},
            summary="The takes of the recording so far and how long each is (no audio; "
                    "audited)",
            auth=[BearerToken(), SignedInSession()])
def recording_takes(request, alarm_id: int):
    alarm = _recording_of(request.user, alarm_id).alarm
    takes = audio.listed(alarm, actor=request.user)
    return {"content_type": takes[0].parts[0].content_type if takes else None,
            "received": alarm.audio_chunks.count(),
            "takes": [{"take": t.number, "first_seq": t.first_seq, "parts": len(t.parts),
                       "bytes": t.size, "waiting": t.waiting,
                       "last_received_at": t.last_received_at} for t in takes]}


@router.post("/alarms/{alarm_id}/locations",
             response={200: AlarmOut, **refusals(400, 403, 404, 409)})
def add_location(request, alarm_id: int, payload: LocationIn):
    alarm = access_alarm(request.user, alarm_id)
    try:
        alarm = actions.do_add_location(alarm, actor=request.user, lat=payload.lat,
                                        lon=payload.lon, accuracy_m=payload.accuracy_m)
    except actions.AlarmConflict as error:
        raise HttpError(409, str(error)) from None
    except actions.AlarmError as error:
        raise HttpError(400, str(error)) from None
    return worker_view.of(alarm)
