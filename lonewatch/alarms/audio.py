"""Audio streamed from a worker's phone during a red alert, built into one recording,
and an amber alert's voice memo, kept the same way (ALM-01, ALM-02).

Chunks are files in the recordings store, encrypted (``lonewatch.core.vault``), one per
chunk under a name of its own (``<alarm>/<seq>-<random>.part``) that its row records:
a killed process leaves at most a file no row names, never a row without its file.

A recording is one or more *takes*. A chunk whose bytes begin with its container's
header starts a take: the phone's page was reloaded mid-alarm (refreshed, checked in,
discarded by the phone) or a device restarted its recorder, and the new recorder went
on numbering after the last chunk the server had. Joined into one file, the browser
would play only up to the second header; so each take is played on its own, the takes
one after another. A take is every chunk from its header up to the first gap (or the
next take), so it can be played while it grows; each time a take grows, an ``audio``
line on the alarm's timeline tells the consoles.

Takes are known from the bytes, not from anything the sender says, so a device that
knows nothing of takes is still heard in full, and the server's idea of a take can
never disagree with what the player will find in the file.
"""

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction

from lonewatch import clock
from lonewatch.alarms import hooks, timeline
from lonewatch.alarms.models import Alarm, AudioChunk
from lonewatch.core import audit, vault

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

# What the API takes, in the order a reader would look for them.
CONTENT_TYPES = tuple(sorted(MAGIC))
# The highest position a chunk may have: far beyond any alarm's audio, low enough that a
# mistaken number is refused rather than stored.
MAX_SEQ = 100_000

# ALM-01: an amber alert's voice memo is sent with it, or just after it by a device that
# sends the alert first; after this long, the amber takes no more audio.
AMBER_MEMO_SECONDS = 10 * 60

# ALM-02: each load of the phone's page numbers its slices from the next thousand above
# every chunk stored. One load sends at most 301 slices (15 minutes of 3-second ones), so
# the slices an earlier load sends as it closes, or later still in poor signal, land in
# its own take, never inside the new one, whenever they arrive. The gap between takes
# costs nothing: a take starts at its header, wherever that is.
PAGE_BLOCK = 1000


class AudioError(ValueError):
    def __init__(self, message: str, status: int = 400, *, next_seq: int | None = None):
        super().__init__(message)
        self.status = status
        # A chunk refused because its position is taken: where the sender may go on.
        self.next_seq = next_seq


@dataclass(slots=True)
class Take:
    """One fresh recording within an alarm's: its chunks that play, and those waiting."""

    number: int  # from 1
    first_seq: int
    parts: list[AudioChunk] = field(default_factory=list)  # from the header, no gap
    waiting: int = 0  # later chunks of this take, behind a gap

    @property
    def size(self) -> int:
        return sum(part.size for part in self.parts)

    @property
    def last_received_at(self) -> datetime:
        return max(part.received_at for part in self.parts)


def _looks_like(content_type: str, data: bytes) -> bool:
    if content_type == "audio/mp4":
        return data[4:8] == b"ftyp"
    return any(data.startswith(magic) for magic in MAGIC[content_type])


def starts_take(content_type: str, data: bytes) -> bool:
    """Whether a chunk after the first starts a fresh recording: it begins with the
    header a recorder writes once, at its start (WebM's EBML header, a RIFF header, an
    MP4 ``ftyp`` box). Every Ogg page begins ``OggS``: a new stream's first page is
    marked "beginning of stream". MP3 and ADTS AAC are runs of frames that play joined,
    each frame starting alike: only an MP3's ID3 tag, written at a file's start, starts
    one. (Migration 0004 keeps a frozen copy of these rules.)"""
    if content_type == "audio/ogg":
        return data.startswith(b"OggS") and len(data) > 5 and bool(data[5] & 0x02)
    if content_type == "audio/mpeg":
        return data.startswith(b"ID3")
    if content_type == "audio/aac":
        return False
    return _looks_like(content_type, data)


def check_size(size) -> None:
    """ALM-02: the one size rule for a slice of audio or a voice memo. Given the declared
    size (a Content-Length header, as text or a number), it refuses before the body is
    read; ``add_chunk`` checks what did arrive the same way."""
    text = str(size if size is not None else 0).strip() or "0"
    if not text.isdigit() or int(text) > settings.ALARM_AUDIO_CHUNK_BYTES:
        raise AudioError(f"A chunk can be at most {settings.ALARM_AUDIO_CHUNK_BYTES} bytes.",
                         413)


def add_chunk(alarm: Alarm, *, actor, seq: int, content_type: str, data: bytes) -> AudioChunk:
    content_type = (content_type or "").split(";")[0].strip().lower()
    if getattr(actor, "person", None) != alarm.worker:
        raise AudioError("Only the worker's phone sends audio for their alarm.", 403)
    if alarm.kind == Alarm.Kind.AMBER:
        if clock.now() > alarm.raised_at + timedelta(seconds=AMBER_MEMO_SECONDS):
            raise AudioError(f"An amber alert's voice memo is sent within "
                             f"{AMBER_MEMO_SECONDS // 60} minutes of the alert: log a new "
                             f"amber alert with it.", 409)
    elif not alarm.open_for_worker:
        raise AudioError("This alarm is not open: no more audio is taken.", 409)
    if not 0 <= seq <= MAX_SEQ:
        raise AudioError(f"seq must be a whole number from 0 to {MAX_SEQ}.")
    if content_type not in MAGIC:
        raise AudioError(f"That is not audio Lonewatch takes: send one of "
                         f"{', '.join(CONTENT_TYPES)}.", 415)
    if not data:
        raise AudioError("The chunk is empty.")
    check_size(len(data))
    first = alarm.audio_chunks.order_by("seq").first()
    if first is not None and first.content_type != content_type:
        raise AudioError(f"This recording is {first.content_type}; send the same type.", 415)
    if seq == 0 and not _looks_like(content_type, data):
        raise AudioError(f"The first chunk does not look like {content_type}.", 415)
    digest = hashlib.sha256(data).hexdigest()
    existing = alarm.audio_chunks.filter(seq=seq).first()
    if existing is not None:
        return _same_or_refused(alarm, existing, digest)
    # Stored (encrypted) before the row, under a name of its own, so the alarm is locked
    # only for the row: two senders of one position at the same moment (an old page's
    # last slices, a reloaded page's first) each store a file, one row wins, and the
    # other's file is deleted.
    stored = vault.save(f"{alarm.pk}/{seq:06d}-{secrets.token_hex(6)}.part", data)
    try:
        with transaction.atomic():
            # One chunk at a time per alarm, so each sees the others and says truly how
            # much of the recording can now be played.
            Alarm.objects.select_for_update().filter(pk=alarm.pk).first()
            now = clock.now()
            chunk = AudioChunk.objects.create(
                alarm=alarm, seq=seq, content_type=content_type, size=len(data),
                sha256=digest, received_at=now, file=stored,
                starts_take=seq == 0 or starts_take(content_type, data))
            if first is None:
                hooks.evidence_changed(alarm)
            _tell(alarm, chunk, now)
            return chunk
    except IntegrityError:
        # Another request stored the same sequence number at the same moment.
        vault.delete(stored)
        return _same_or_refused(alarm, alarm.audio_chunks.get(seq=seq), digest)
    except BaseException:
        vault.delete(stored)
        raise


def next_page_seq(alarm: Alarm) -> int:
    """Where a fresh load of the phone's page numbers its first slice (``PAGE_BLOCK``)."""
    last = alarm.audio_chunks.order_by("-seq").values_list("seq", flat=True).first()
    return 0 if last is None else (last // PAGE_BLOCK + 1) * PAGE_BLOCK


def _same_or_refused(alarm: Alarm, existing: AudioChunk, digest: str) -> AudioChunk:
    if existing.sha256 == digest:
        return existing  # sent twice: nothing changes
    raise AudioError(f"Chunk {existing.seq} was already received with different content.",
                     409, next_seq=next_page_seq(alarm))


def _tell(alarm: Alarm, chunk: AudioChunk, now) -> None:
    """If the chunk made a take longer, consoles listening to it fetch it again
    (``alarm.audio`` on the event stream). A chunk behind a gap waits, and tells no one."""
    every = takes(alarm)
    take = next((t for t in reversed(every) if t.first_seq <= chunk.seq), None)
    if take is None or chunk not in take.parts:
        return
    playable = len(take.parts)
    parts = f"{playable} part{'s' if playable > 1 else ''}"
    if len(every) == 1:
        summary = f"Audio received: {parts} of the recording can be played"
    elif chunk.seq == take.first_seq:
        summary = (f"Audio received: take {take.number} started (the phone began "
                   f"recording afresh); {parts} of it can be played")
    else:
        summary = f"Audio received: {parts} of take {take.number} can be played"
    timeline.append(alarm, at=now, kind="audio", summary=summary,
                    data={"seq": chunk.seq, "take": take.number, "takes": len(every),
                          "playable": playable})


def takes(alarm: Alarm) -> list[Take]:
    """The takes of the alarm's recording so far, in order. Chunks before the first
    header (the first chunk has not come yet) are in no take until it comes."""
    found: list[Take] = []
    for chunk in alarm.audio_chunks.order_by("seq"):
        if chunk.starts_take:
            found.append(Take(number=len(found) + 1, first_seq=chunk.seq, parts=[chunk]))
        elif found:
            take = found[-1]
            if chunk.seq == take.parts[-1].seq + 1 and not take.waiting:
                take.parts.append(chunk)
            else:
                take.waiting += 1
    return found


def listed(alarm: Alarm, *, actor) -> list[Take]:
    """The takes so far, for someone who asked to see them: the listing is audited, as
    every play is (REC-03)."""
    every = takes(alarm)
    audit.record_read("alarm.recording.list", actor=actor, obj=alarm,
                      summary=f"Takes of the recording of the alarm of {alarm.worker} listed "
                              f"({len(every)} take{'' if len(every) == 1 else 's'})")
    return every


def recording(alarm: Alarm, *, actor, take: int = 1) -> tuple[bytes, str, list[Take]]:
    """One take of the recording so far (its chunks up to the first gap), with the read
    audited, and every take (how many, how long). Before any audio, take 1 is empty."""
    every = takes(alarm)
    if not 1 <= take <= max(len(every), 1):
        raise AudioError(f"There is no take {take}: the recording has "
                         f"{len(every) or 'no'} take{'' if len(every) == 1 else 's'}.", 404)
    chosen = every[take - 1] if every else None
    parts = chosen.parts if chosen else []
    data = b"".join(vault.read(part.file) for part in parts if part.file)
    received = alarm.audio_chunks.count()
    audit.record_read("alarm.recording.read", actor=actor, obj=alarm,
                      summary=f"Recording of the alarm of {alarm.worker} played (take {take} "
                              f"of {max(len(every), 1)}: {len(parts)} of {received} chunks)")
    content_type = parts[0].content_type if parts else "audio/webm"
    return data, content_type, every


# ALM-02: the phone records for this long after a red alert at most; the alarm centre
# has the worker's location, their phone number and 999 by then.
RECORD_SECONDS = 15 * 60


# ALM-01: an amber alert's voice memo is short: what an operator needs before going in.
MEMO_SECONDS = 60
