"""Audio streamed from a worker's phone during a red alert, built into one recording,
and an amber alert's voice memo, kept the same way (ALM-01, ALM-02).

Chunks are files under the data directory (``recordings/<alarm>/<seq>.part``),
written to a temporary name and renamed into place, so a killed process leaves no
half chunk. The recording an operator plays is every chunk from the first up to the
first gap, so it can be played while it grows; each time it grows, an ``audio`` line
on the alarm's timeline tells the consoles.
"""

import hashlib
import os
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction

from lonewatch import clock
from lonewatch.alarms.models import Alarm, AlarmEvent, AudioChunk
from lonewatch.core import audit

# What a browser's MediaRecorder or a device sends, and how the first chunk starts.
MAGIC = {
    "audio/webm": (b"\x1a\x45\xdf\xa3",),
    "audio/ogg": (b"OggS",),
    "audio/wav": (b"RIFF",),
    "audio/x-wav": (b"RIFF",),
    "audio/mpeg": (b"ID3", b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"),
    "audio/mp4": (),  # checked by its ftyp box below
    "audio/aac": (b"\xff\xf1", b"\xff\xf9"),
}

# ALM-01: an amber alert's voice memo is sent with it, or just after it by a device that
# sends the alert first; after this long, the amber takes no more audio.
AMBER_MEMO_SECONDS = 10 * 60


class AudioError(ValueError):
    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def folder(alarm: Alarm) -> Path:
    return Path(settings.DATA_DIR) / "recordings" / str(alarm.pk)


def _looks_like(content_type: str, data: bytes) -> bool:
    if content_type == "audio/mp4":
        return data[4:8] == b"ftyp"
    return any(data.startswith(magic) for magic in MAGIC[content_type])


def add_chunk(alarm: Alarm, *, actor, seq: int, content_type: str, data: bytes) -> AudioChunk:
    content_type = (content_type or "").split(";")[0].strip().lower()
    if getattr(actor, "person", None) != alarm.worker:
        raise AudioError("Only the worker's phone sends audio for their alarm.", 403)
    if alarm.kind == Alarm.Kind.AMBER:
        if clock.now() > alarm.raised_at + timedelta(seconds=AMBER_MEMO_SECONDS):
            raise AudioError(f"An amber alert's voice memo is sent within "
                             f"{AMBER_MEMO_SECONDS // 60} minutes of the alert: log a new "
                             f"amber alert with it.", 409)
    elif not alarm.is_open:
        raise AudioError("This alarm is not open: no more audio is taken.", 409)
    if not 0 <= seq <= 100_000:
        raise AudioError("seq must be a whole number from 0.")
    if content_type not in MAGIC:
        raise AudioError(f"That is not audio Lonewatch takes: send one of "
                         f"{', '.join(sorted(MAGIC))}.", 415)
    if not data:
        raise AudioError("The chunk is empty.")
    if len(data) > settings.ALARM_AUDIO_CHUNK_BYTES:
        raise AudioError(f"A chunk can be at most {settings.ALARM_AUDIO_CHUNK_BYTES} bytes.",
                         413)
    first = alarm.audio_chunks.order_by("seq").first()
    if first is not None and first.content_type != content_type:
        raise AudioError(f"This recording is {first.content_type}; send the same type.", 415)
    if seq == 0 and not _looks_like(content_type, data):
        raise AudioError(f"The first chunk does not look like {content_type}.", 415)
    digest = hashlib.sha256(data).hexdigest()
    existing = alarm.audio_chunks.filter(seq=seq).first()
    if existing is not None:
        if existing.sha256 == digest:
            return existing  # sent twice: nothing changes
        raise AudioError(f"Chunk {seq} was already received with different content.", 409)
    target = folder(alarm)
    target.mkdir(parents=True, exist_ok=True)
    final = target / f"{seq:06d}.part"
    draft = target / f".{seq:06d}.{os.getpid()}.tmp"
    draft.write_bytes(data)
    os.replace(draft, final)
    try:
        with transaction.atomic():
            # One chunk at a time per alarm, so each sees the others and says truly how
            # much of the recording can now be played.
            Alarm.objects.select_for_update().filter(pk=alarm.pk).first()
            now = clock.now()
            chunk = AudioChunk.objects.create(alarm=alarm, seq=seq, content_type=content_type,
                                              size=len(data), sha256=digest, received_at=now)
            playable = _playable(alarm)
            if seq < playable:
                # The recording got longer: consoles listening to it fetch it again
                # (``alarm.audio`` on the event stream). A chunk behind a gap waits.
                AlarmEvent.objects.create(
                    alarm=alarm, at=now, kind="audio",
                    summary=f"Audio received: {playable} part{'s' if playable > 1 else ''} "
                            f"of the recording can be played",
                    data={"seq": seq, "playable": playable})
            return chunk
    except IntegrityError:
        # Another request stored the same sequence number at the same moment.
        return alarm.audio_chunks.get(seq=seq)


def _playable(alarm: Alarm) -> int:
    """How many chunks, from the first, arrived without a gap."""
    count = 0
    for seq in alarm.audio_chunks.order_by("seq").values_list("seq", flat=True):
        if seq != count:
            break
        count += 1
    return count


def recording(alarm: Alarm, *, actor) -> tuple[bytes, str, int]:
    """The recording so far (the chunks up to the first gap), with a read audited."""
    chunks = list(alarm.audio_chunks.order_by("seq"))
    parts, expected = [], 0
    for chunk in chunks:
        if chunk.seq != expected:
            break
        parts.append((folder(alarm) / f"{chunk.seq:06d}.part").read_bytes())
        expected += 1
    audit.record_read("alarm.recording.read", actor=actor, obj=alarm,
                      summary=f"Recording of the alarm of {alarm.worker} played "
                              f"({expected} of {len(chunks)} chunks)")
    content_type = chunks[0].content_type if chunks else "audio/webm"
    return b"".join(parts), content_type, len(chunks) - expected
