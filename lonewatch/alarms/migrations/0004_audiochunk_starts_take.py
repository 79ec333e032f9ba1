"""ALM-02: mark the audio chunks that start a fresh recording (a take).

Chunks already stored are marked from their first bytes, so a recording made before
this change (a page reloaded mid-alarm) plays each take in full too. The rule is a
frozen copy of ``lonewatch.alarms.audio.starts_take`` as it was written here.
"""

from pathlib import Path

from django.conf import settings
from django.db import migrations, models


def _starts_take(content_type: str, head: bytes) -> bool:
    if content_type == "audio/webm":
        return head.startswith(b"\x1a\x45\xdf\xa3")
    if content_type == "audio/ogg":
        return head.startswith(b"OggS") and len(head) > 5 and bool(head[5] & 0x02)
    if content_type in ("audio/wav", "audio/x-wav"):
        return head.startswith(b"RIFF")
    if content_type == "audio/mp4":
        return head[4:8] == b"ftyp"
    if content_type == "audio/mpeg":
        return head.startswith(b"ID3")
    return False


def mark_takes(apps, schema_editor):
    AudioChunk = apps.get_model("alarms", "AudioChunk")
    AudioChunk.objects.filter(seq=0).update(starts_take=True)
    recordings = Path(settings.DATA_DIR) / "recordings"
    later = AudioChunk.objects.filter(seq__gt=0).values_list("pk", "alarm_id", "seq",
                                                             "content_type")
    starts = []
    for pk, alarm_id, seq, content_type in later.iterator():
        try:
            with open(recordings / str(alarm_id) / f"{seq:06d}.part", "rb") as part:
                head = part.read(12)
        except OSError:
            continue  # the file is gone (deleted by retention): nothing to play
        if _starts_take(content_type, head):
            starts.append(pk)
    for at in range(0, len(starts), 500):
        AudioChunk.objects.filter(pk__in=starts[at:at + 500]).update(starts_take=True)


class Migration(migrations.Migration):

    dependencies = [
        ('alarms', '0003_alarmevent_notify'),
    ]

    operations = [
        migrations.AddField(
            model_name='audiochunk',
            name='starts_take',
            field=models.BooleanField(default=False),
        ),
        migrations.RunPython(mark_takes, migrations.RunPython.noop),
    ]
