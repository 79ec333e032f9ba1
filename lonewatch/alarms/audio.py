"""Audio streamed from a worker's phone during a red alert, built into one recording.

Chunks are files under the data directory (``recordings/<alarm>/<seq>.part``),
written to a temporary name and renamed into place, so a killed process leaves no
half chunk. The recording an operator plays is every chunk from the first up to the
first gap, so it can be played while it grows.
"""

import hashlib
import os
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction

from lonewatch import clock
from lonewatch.alarms.models import Alarm, AudioChunk
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
    if alarm.kind != Alarm.Kind.RED or not alarm.is_open:
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
            return AudioChunk.objects.create(alarm=alarm, seq=seq, content_type=content_type,
                                             size=len(data), sha256=digest,
                                             received_at=clock.now())
    except IntegrityError:
        # Another request stored the same sequence number at the same moment.
        return alarm.audio_chunks.get(seq=seq)


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
