"""ALM-02: a red alert's recording in takes. When the phone's page loads again mid-alarm
(refreshed, checked in, discarded by the phone) or a device restarts its recorder, the
new recorder's first chunk carries its container's header again: a fresh take starts
there. Each take is played on its own (joined, the browser stops at the second header),
grows while it is played, and every play is audited."""

import importlib

import pytest
from django.apps import apps
from django.test import Client

from lonewatch.alarms import actions, audio
from lonewatch.alarms.models import Alarm, AudioChunk
from lonewatch.core import vault
from lonewatch.core.models import AuditEvent
from tests.conftest import login, token_for

EBML = b"\x1a\x45\xdf\xa3"
# Take 1 and take 2 as a recorder makes them: a header, then clusters.
FIRST = [EBML + b"take-1-header", b"-take-1-cluster-1-", b"-take-1-cluster-2-"]
SECOND = [EBML + b"take-2-header", b"-take-2-cluster-1-", b"-take-2-cluster-2-"]


@pytest.fixture(autouse=True)
def _data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path


def _bearer(person):
    return {"Authorization": f"Bearer {token_for(person)}"}


@pytest.fixture
def desk(trust, nina_ready):
    olivia = trust.people["olivia"]
    actions.do_duty(olivia, on=True, actor=olivia.user)
    return {"nina": _bearer(nina_ready), "olivia": _bearer(olivia),
            "ben": _bearer(trust.people["ben"])}


@pytest.fixture
def alarm(client, desk) -> int:
    response = client.post("/api/v1/alarms", {}, content_type="application/json",
                           headers=desk["nina"])
    assert response.status_code == 201
    return response.json()["id"]


def _send(client, desk, aid, seq, data, content_type="audio/webm"):
    response = client.post(f"/api/v1/alarms/{aid}/audio?seq={seq}", data,
                           content_type=content_type, headers=desk["nina"])
    assert response.status_code == 201, response.content
    return response.json()


def _play(client, desk, aid, take=None):
    query = "" if take is None else f"?take={take}"
    return client.get(f"/api/v1/alarms/{aid}/recording{query}", headers=desk["olivia"])


def _takes(client, desk, aid):
    response = client.get(f"/api/v1/alarms/{aid}/recording/takes", headers=desk["olivia"])
    assert response.status_code == 200, response.content
    return [(t["take"], t["first_seq"], t["parts"], t["waiting"]) for t in
            response.json()["takes"]]


def _reads():
    return AuditEvent.objects.filter(action="alarm.recording.read").count()


def test_alm_02_a_second_header_at_seq_3_starts_take_2(client, desk, alarm):
    sent = [_send(client, desk, alarm, seq, data)
            for seq, data in enumerate(FIRST + SECOND[:2])]
    assert [s["starts_take"] for s in sent] == [True, False, False, True, False]
    assert _takes(client, desk, alarm) == [(1, 0, 3, 0), (2, 3, 2, 0)]

    first = _play(client, desk, alarm)  # take 1 unless asked
    assert first.status_code == 200 and first["Content-Type"] == "audio/webm"
    assert first.content == b"".join(FIRST)
    assert (first["X-Lonewatch-Take"], first["X-Lonewatch-Takes"]) == ("1", "2")
    assert first["X-Lonewatch-Take-Parts"] == "3, 2"
    assert first["X-Lonewatch-Take-Bytes"] == (f"{len(b''.join(FIRST))}, "
                                               f"{len(b''.join(SECOND[:2]))}")
    assert first["X-Chunks-Waiting"] == "0" and first["Cache-Control"] == "no-store"
    second = _play(client, desk, alarm, take=2)
    assert second.content == b"".join(SECOND[:2]) and second["X-Lonewatch-Take"] == "2"
    assert _play(client, desk, alarm, take=1).content == b"".join(FIRST)

    # Take 2 grows while it is played.
    _send(client, desk, alarm, 5, SECOND[2])
    assert _play(client, desk, alarm, take=2).content == b"".join(SECOND)
    # One audited read per play, each saying which take; the list of takes is no play.
    reads = AuditEvent.objects.filter(action="alarm.recording.read").order_by("id")
    assert [r.actor.username for r in reads] == ["olivia"] * 4
    assert "(take 2 of 2: 3 of 6 chunks)" in reads.last().summary


def test_alm_02_chunks_out_of_order_or_twice_build_each_take(client, desk, alarm):
    parts = FIRST + SECOND
    for seq in (4, 3, 1, 5, 0, 4, 2, 1, 3):  # late, out of order and twice, in both takes
        _send(client, desk, alarm, seq, parts[seq])
    assert _takes(client, desk, alarm) == [(1, 0, 3, 0), (2, 3, 3, 0)]
    assert _play(client, desk, alarm, take=1).content == b"".join(FIRST)
    assert _play(client, desk, alarm, take=2).content == b"".join(SECOND)
    # A different chunk where one is stored is refused, inside either take.
    for seq in (1, 4):
        clash = client.post(f"/api/v1/alarms/{alarm}/audio?seq={seq}", b"-other-",
                            content_type="audio/webm", headers=desk["nina"])
        assert clash.status_code == 409 and "different content" in clash.json()["detail"]
    assert AudioChunk.objects.count() == 6


def test_alm_02_a_chunk_behind_a_gap_waits_in_its_take(client, desk, alarm):
    parts = FIRST + [b"-take-1-cluster-3-"]
    for seq in (0, 1, 3):  # 2 has not come
        _send(client, desk, alarm, seq, parts[seq])
    _send(client, desk, alarm, 10, SECOND[0])
    _send(client, desk, alarm, 12, SECOND[2])  # 11 has not come
    assert _takes(client, desk, alarm) == [(1, 0, 2, 1), (2, 10, 1, 1)]
    played = _play(client, desk, alarm, take=1)
    assert played.content == b"".join(parts[:2]) and played["X-Chunks-Waiting"] == "1"
    assert _play(client, desk, alarm, take=2).content == SECOND[0]
    _send(client, desk, alarm, 2, parts[2])
    _send(client, desk, alarm, 11, SECOND[1])
    assert _takes(client, desk, alarm) == [(1, 0, 4, 0), (2, 10, 3, 0)]
    assert _play(client, desk, alarm, take=1).content == b"".join(parts)
    assert _play(client, desk, alarm, take=2).content == b"".join(SECOND)


def test_alm_02_chunks_before_the_first_header_wait_for_it(client, desk, alarm):
    _send(client, desk, alarm, 1, FIRST[1])
    _send(client, desk, alarm, 2, FIRST[2])
    assert _takes(client, desk, alarm) == []
    empty = _play(client, desk, alarm)
    assert empty.status_code == 200 and empty.content == b""
    assert empty["X-Lonewatch-Takes"] == "0"
    _send(client, desk, alarm, 0, FIRST[0])
    assert _takes(client, desk, alarm) == [(1, 0, 3, 0)]


def test_alm_02_a_header_that_comes_late_splits_off_its_take(client, desk, alarm):
    for seq in (0, 1, 2, 4, 5):  # take 2's header (3) is still on its way
        _send(client, desk, alarm, seq, (FIRST + SECOND)[seq])
    assert _takes(client, desk, alarm) == [(1, 0, 3, 2)]  # 4 and 5 wait behind the gap
    _send(client, desk, alarm, 3, SECOND[0])
    assert _takes(client, desk, alarm) == [(1, 0, 3, 0), (2, 3, 3, 0)]
    assert _play(client, desk, alarm, take=2).content == b"".join(SECOND)


def test_alm_02_the_timeline_says_when_a_take_starts_and_grows(client, desk, alarm):
    for seq in (0, 1, 2, 3, 5, 4):
        _send(client, desk, alarm, seq, (FIRST + SECOND)[seq])
    told = Alarm.objects.get(pk=alarm).events.filter(kind="audio")
    assert [e.summary for e in told] == [
        "Audio received: 1 part of the recording can be played",
        "Audio received: 2 parts of the recording can be played",
        "Audio received: 3 parts of the recording can be played",
        "Audio received: take 2 started (the phone began recording afresh); 1 part of it "
        "can be played",
        # 5 waits behind the gap: nobody is told until 4 fills it.
        "Audio received: 3 parts of take 2 can be played",
    ]
    assert told.last().data == {"seq": 4, "take": 2, "takes": 2, "playable": 3}


def test_alm_02_a_take_that_is_not_there_is_404_and_not_audited(client, desk, alarm):
    assert _play(client, desk, alarm, take=2).status_code == 404  # no audio at all
    _send(client, desk, alarm, 0, FIRST[0])
    missing = _play(client, desk, alarm, take=2)
    assert missing.status_code == 404 and "no take 2" in missing.json()["detail"]
    assert _play(client, desk, alarm, take=0).status_code in (400, 422)
    assert _reads() == 0


def test_alm_02_only_the_alarm_centre_lists_or_plays_the_takes(client, desk, alarm, trust):
    _send(client, desk, alarm, 0, FIRST[0])
    for who in ("nina", "ben"):
        headers = desk[who]
        assert client.get(f"/api/v1/alarms/{alarm}/recording/takes",
                          headers=headers).status_code in (403, 404)
        assert client.get(f"/api/v1/alarms/{alarm}/recording?take=1",
                          headers=headers).status_code in (403, 404)
    url = f"/api/v1/alarms/{alarm}/recording/takes"
    # The console's own sign-in, with the second factor the role needs.
    assert login(Client(), trust.people["olivia"]).get(url).status_code == 401
    listed = login(Client(), trust.people["olivia"], verified=True).get(url)
    assert listed.status_code == 200 and listed.json()["content_type"] == "audio/webm"
    assert _reads() == 0


@pytest.mark.parametrize(("content_type", "data", "starts"), [
    ("audio/webm", EBML + b"\x42\x86", True),
    ("audio/webm", b"\x1f\x43\xb6\x75cluster", False),
    ("audio/ogg", b"OggS\x00\x02" + b"\x00" * 20, True),  # beginning of a stream
    ("audio/ogg", b"OggS\x00\x00" + b"\x00" * 20, False),  # every page starts OggS
    ("audio/ogg", b"OggS\x00\x04" + b"\x00" * 20, False),  # the last page
    ("audio/wav", b"RIFF\x24\x00\x00\x00WAVE", True),
    ("audio/mp4", b"\x00\x00\x00\x18ftypiso6", True),
    ("audio/mp4", b"\x00\x00\x01\x00moof", False),
    ("audio/mpeg", b"ID3\x04\x00", True),
    ("audio/mpeg", b"\xff\xfb\x90\x64", False),  # frames play joined
    ("audio/aac", b"\xff\xf1\x50\x80", False),
])
def test_alm_02_the_header_that_starts_a_take_for_each_type(content_type, data, starts):
    assert audio.starts_take(content_type, data) is starts


def test_alm_02_a_reloaded_page_records_a_take_clear_of_the_last_pages_slices(nina_ready,
                                                                            trust):
    phone = login(Client(), nina_ready)
    assert phone.post("/my-day/alert/red", {}).status_code == 302
    alarm = Alarm.objects.get(kind="red")
    page = f"/my-day/alarms/{alarm.pk}/audio"
    for seq in (0, 1):
        assert phone.post(f"{page}?seq={seq}", FIRST[seq],
                          content_type="audio/webm").status_code == 201
    # Loaded again: the page numbers its take from the next thousand.
    assert 'data-seq="1000"' in phone.get("/my-day/").content.decode()
    fresh = phone.post(f"{page}?seq=1000", SECOND[0], content_type="audio/webm")
    assert fresh.status_code == 201 and fresh.json()["starts_take"] is True
    # The earlier load's last slice, sent as it closed, comes after: it joins its own take.
    assert phone.post(f"{page}?seq=2", FIRST[2], content_type="audio/webm").status_code == 201
    assert phone.post(f"{page}?seq=1001", SECOND[1],
                      content_type="audio/webm").status_code == 201
    assert [(t.first_seq, len(t.parts), t.waiting) for t in audio.takes(alarm)] == [
        (0, 3, 0), (1000, 2, 0)]
    olivia = trust.people["olivia"]
    actions.do_duty(olivia, on=True, actor=olivia.user)  # REC-03: operators on duty hear it
    desk = Client(headers=_bearer(olivia))
    assert desk.get(f"/api/v1/alarms/{alarm.pk}/recording?take=2").content == b"".join(
        SECOND[:2])

    # A take's first slice whose place is taken is told where the free places start.
    taken = phone.post(f"{page}?seq=1001", SECOND[0], content_type="audio/webm")
    assert taken.status_code == 409
    assert taken.json()["next_seq"] == 2000 and taken.json()["alarm_open"] is True


def test_alm_02_two_senders_of_one_place_at_once_leave_one_chunk_and_its_own_bytes(
        client, desk, alarm, monkeypatch, tmp_path):
    _send(client, desk, alarm, 0, FIRST[0])
    atomic, raced = audio.transaction.atomic, []

    def another_request_first(*args, **kwargs):
        # Another request stores the same place, with other bytes, just before this one
        # takes the alarm's lock (after this one looked and found the place free).
        if not raced:
            raced.append(AudioChunk.objects.create(
                alarm_id=alarm, seq=1, content_type="audio/webm", size=5, sha256="0" * 64,
                received_at=AudioChunk.objects.get(seq=0).received_at,
                file=vault.save(f"{alarm}/000001-other.part", b"other")))
        return atomic(*args, **kwargs)

    monkeypatch.setattr(audio.transaction, "atomic", another_request_first)
    clash = client.post(f"/api/v1/alarms/{alarm}/audio?seq=1", FIRST[1],
                        content_type="audio/webm", headers=desk["nina"])
    assert clash.status_code == 409
    # The bytes that lost were deleted from the store: each row's file, and no other.
    folder = tmp_path / "recordings" / str(alarm)
    assert {f"{alarm}/{p.name}" for p in folder.iterdir()} == set(
        AudioChunk.objects.values_list("file", flat=True))
    assert vault.read(AudioChunk.objects.get(seq=1).file) == b"other"


def _as_kept_before_encryption(alarm, tmp_path) -> None:
    """The alarm's chunks as they were kept before recordings were encrypted: plain files
    at ``DATA_DIR/recordings/<alarm>/<seq>.part``, rows naming no file."""
    plain = tmp_path / "recordings" / str(alarm)
    for chunk in AudioChunk.objects.filter(alarm_id=alarm):
        data = vault.read(chunk.file)
        vault.delete(chunk.file)
        (plain / f"{chunk.seq:06d}.part").write_bytes(data)
    AudioChunk.objects.update(file="")


def test_alm_02_migration_marks_the_takes_already_stored(client, desk, alarm, tmp_path):
    for seq, data in enumerate(FIRST + SECOND):
        _send(client, desk, alarm, seq, data)
    _as_kept_before_encryption(alarm, tmp_path)
    AudioChunk.objects.update(starts_take=False)  # as stored before takes were known
    (tmp_path / "recordings" / str(alarm) / "000005.part").unlink()  # a file gone
    migration = importlib.import_module(
        "lonewatch.alarms.migrations.0004_audiochunk_starts_take")
    migration.mark_takes(apps, None)
    assert list(AudioChunk.objects.filter(starts_take=True).values_list("seq", flat=True)) == [
        0, 3]


def test_rec_02_migration_encrypts_the_chunks_already_kept(client, desk, alarm, tmp_path):
    for seq, data in enumerate(FIRST):
        _send(client, desk, alarm, seq, data)
    _as_kept_before_encryption(alarm, tmp_path)
    (tmp_path / "recordings" / str(alarm) / "000002.part").unlink()  # a file gone
    migration = importlib.import_module("lonewatch.alarms.migrations.0010_audiochunk_file")
    migration.encrypt_kept_chunks(apps, None)
    kept = AudioChunk.objects.order_by("seq")
    assert [bool(c.file) for c in kept] == [True, True, False]
    assert [vault.read(c.file) for c in kept[:2]] == FIRST[:2]
    assert not list((tmp_path / "recordings").rglob("0?????.part"))  # no plain file left
    assert _play(client, desk, alarm).content == b"".join(FIRST[:2])


def test_alm_02_takes_are_in_the_openapi_schema(client, db):
    paths = client.get("/api/openapi.json").json()["paths"]
    listing = paths["/api/v1/alarms/{alarm_id}/recording/takes"]["get"]
    assert "takes" in listing["summary"]
    played = paths["/api/v1/alarms/{alarm_id}/recording"]["get"]
    assert [p["name"] for p in played["parameters"]] == ["alarm_id", "take"]
    assert "X-Lonewatch-Takes" in played["description"]
