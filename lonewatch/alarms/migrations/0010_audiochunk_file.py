"""REC-02: recordings are encrypted at rest, in the recordings store.

Each chunk's row now names its file in the store. Chunks kept before this change (plain
files at ``DATA_DIR/recordings/<alarm>/<seq>.part``) are encrypted into the store with
the current recording key, and the plain file is deleted. A chunk whose file is gone
keeps an empty name: there is nothing to play.
"""

from pathlib import Path

from django.conf import settings
from django.db import migrations, models


def encrypt_kept_chunks(apps, schema_editor):
    from lonewatch.core import vault  # the store and key of the running configuration

    AudioChunk = apps.get_model("alarms", "AudioChunk")
    plain_root = Path(settings.DATA_DIR) / "recordings"
    for chunk in AudioChunk.objects.filter(file="").iterator():
        plain = plain_root / str(chunk.alarm_id) / f"{chunk.seq:06d}.part"
        try:
            data = plain.read_bytes()
        except OSError:
            continue
        chunk.file = vault.save(f"{chunk.alarm_id}/{chunk.seq:06d}-kept.part", data)
        chunk.save(update_fields=["file"])
        plain.unlink()


class Migration(migrations.Migration):

    dependencies = [
        ('alarms', '0009_worker_view'),
    ]

    operations = [
        migrations.AddField(
            model_name='audiochunk',
            name='file',
            field=models.CharField(default='', max_length=200),
            preserve_default=False,
        ),
        migrations.RunPython(encrypt_kept_chunks, migrations.RunPython.noop, elidable=True),
    ]
