"""REC-02: recordings are encrypted at rest, in files only the service account can read,
and destroyed for good: every file of the recording and the alarm's position trail go,
the recording's metadata says destroyed, the destruction log says what went and why,
and a download answers 410. The alarm's record and timeline stay. The same through an
S3-compatible bucket."""

import stat
from datetime import timedelta

import boto3
import pytest
from django.core.files.storage import storages
from django.test import Client
from moto import mock_aws

from lonewatch.alarms.models import AlarmPosition
from lonewatch.core import vault
from lonewatch.core.models import AuditEvent
from lonewatch.recordings.actions import destroy_due
from lonewatch.recordings.models import Destruction
from tests.recordings.conftest import AUDIO, later

pytestmark = pytest.mark.django_db


def test_rec_02_the_bytes_on_disk_are_not_the_audio_and_only_the_service_reads_them(
        make, tmp_path):
    made = make("red")
    folder = tmp_path / "recordings" / str(made.alarm.pk)
    files = sorted(folder.iterdir())
    assert len(files) == 3
    stored = b"".join(f.read_bytes() for f in files)
    for part in AUDIO:
        assert part not in stored
    assert b"\x1a\x45\xdf\xa3" not in stored
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    # What the store gives back is the audio, only through the key.
    assert [vault.read(c.file) for c in made.alarm.audio_chunks.order_by("seq")] == AUDIO


def test_rec_02_a_recording_keeps_old_keys_for_reading_after_rotation(make, settings):
    made = make("red")
    old = list(settings.RECORDING_KEYS)
    settings.RECORDING_KEYS = ["3pQf2-r0y9Ow0nXG1Yd2UHC1MJ3u1Hjv9U1L4cYQ-gE=", *old]
    vault._keys.cache_clear()
    try:
        assert [vault.read(c.file) for c in made.alarm.audio_chunks.order_by("seq")] == AUDIO
        name = vault.save("rotated.part", b"new audio")
        settings.RECORDING_KEYS = settings.RECORDING_KEYS[:1]  # the new key alone
        vault._keys.cache_clear()
        assert vault.read(name) == b"new audio"
        with pytest.raises(vault.VaultError, match="No configured recording key"):
            vault.read(made.alarm.audio_chunks.first().file)
    finally:
        settings.RECORDING_KEYS = old
        vault._keys.cache_clear()


def test_rec_02_after_destruction_nothing_is_left_but_the_record_of_it(
        make, trust, at, time_machine, tmp_path):
    at()
    made = make("red", close="false_alarm")
    alarm = made.alarm
    positions = AlarmPosition.objects.filter(event__alarm=alarm).count()
    assert positions >= 1
    lines_before = alarm.events.count()
    later(time_machine, timedelta(hours=24))
    assert destroy_due() == 1

    # The files are gone from the disk, the chunks' rows and the trail with them.
    assert not list((tmp_path / "recordings").rglob("*.part"))
    assert not alarm.audio_chunks.exists()
    assert not AlarmPosition.objects.filter(event__alarm=alarm).exists()
    # The metadata says destroyed; the log says what, when and why.
    recording = made.recording
    assert recording.destroyed_at is not None and recording.checksum
    assert recording.format == "audio/webm" and recording.chunks == 3
    log = Destruction.objects.get(alarm_id=alarm.pk)
    assert (log.rule, log.files, log.bytes, log.positions, log.takes) == (
        "false_alarm", 3, sum(map(len, AUDIO)), positions, 1)
    assert log.delete_after == alarm.closed_at + timedelta(hours=24)
    assert log.checksum == recording.checksum
    # The alarm's record and timeline stay, with a line that says what went.
    alarm.refresh_from_db()
    assert alarm.events.count() == lines_before + 1
    assert "destroyed under the retention rule: false alarm" in alarm.events.last().summary
    assert AuditEvent.objects.filter(action="recording.destroy",
                                     object_id=str(recording.pk)).exists()

    # A download answers 410 to the security manager; the listing of takes too.
    leslie = Client(headers=_bearer(trust.people["leslie"]))
    gone = leslie.get(f"/api/v1/alarms/{alarm.pk}/recording")
    assert gone.status_code == 410 and "destroyed" in gone.json()["detail"]
    assert leslie.get(f"/api/v1/alarms/{alarm.pk}/recording/takes").status_code == 410
    log_api = leslie.get("/api/v1/recording-destructions").json()
    assert [(d["alarm_id"], d["rule"], d["files"]) for d in log_api] == [
        (alarm.pk, "false_alarm", 3)]
    # Destroying again finds nothing to do.
    assert destroy_due() == 0


BUCKET = "lonewatch-recordings-test"


@pytest.fixture
def bucket(settings):
    with mock_aws():
        boto3.client("s3", region_name="eu-west-2").create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-2"})
        settings.STORAGES = {**settings.STORAGES, "recordings": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {"bucket_name": BUCKET, "region_name": "eu-west-2",
                        "access_key": "testing", "secret_key": "testing",
                        "default_acl": "private", "file_overwrite": False}}}
        yield boto3.client("s3", region_name="eu-west-2")


def _objects(s3) -> dict[str, bytes]:
    listed = s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])
    return {o["Key"]: s3.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read()
            for o in listed}


def test_rec_02_in_a_bucket_recordings_are_encrypted_and_destroyed_too(
        bucket, make, trust, at, time_machine):
    at()
    assert storages["recordings"].__class__.__name__ == "S3Storage"
    made = make("red", close="false_alarm")
    stored = _objects(bucket)
    assert len(stored) == 3
    assert not any(part in body for body in stored.values() for part in AUDIO)
    leslie = Client(headers=_bearer(trust.people["leslie"]))
    played = leslie.get(f"/api/v1/alarms/{made.alarm.pk}/recording")
    assert played.status_code == 200 and played.content == b"".join(AUDIO)
    later(time_machine, timedelta(hours=24))
    assert destroy_due() == 1
    assert _objects(bucket) == {}


def _bearer(person):
    from tests.conftest import bearer

    return bearer(person)
