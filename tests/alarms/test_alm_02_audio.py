"""ALM-02: the audio a worker's phone sends during a red alert: one recording from
chunks however they come, refused when bad or late, played while it grows, audited."""


import pytest

from lonewatch.alarms.models import Alarm
from tests.conftest import post

WEBM = b"\x1a\x45\xdf\xa3" + b"header-and-first-cluster"


def _chunk(client, headers, aid, seq, data, content_type="audio/webm"):
    return client.post(f"/api/v1/alarms/{aid}/audio?seq={seq}", data,
                       content_type=content_type, headers=headers)


def test_alm_02_audio_chunks_out_of_order_or_twice_build_one_recording(client, trust, desk,
                                                                      settings, tmp_path):
    settings.DATA_DIR = tmp_path
    aid = post(client, "/api/v1/alarms", desk["nina"]).json()["id"]
    parts = [WEBM, b"-cluster-1-", b"-cluster-2-", b"-cluster-3-"]
    for seq in (0, 2, 1, 2, 3, 1):  # late, out of order, and twice
        response = _chunk(client, desk["nina"], aid, seq, parts[seq])
        assert response.status_code == 201, response.content
    played = client.get(f"/api/v1/alarms/{aid}/recording", headers=desk["olivia"])
    assert played.status_code == 200 and played["Content-Type"] == "audio/webm"
    assert played.content == b"".join(parts) and played["X-Chunks-Waiting"] == "0"
    from lonewatch.core.models import AuditEvent

    assert AuditEvent.objects.filter(action="alarm.recording.read").count() == 1
    clash = _chunk(client, desk["nina"], aid, 2, b"-something-else-")
    assert clash.status_code == 409


def test_alm_02_recording_plays_while_it_grows(client, trust, desk, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    aid = post(client, "/api/v1/alarms", desk["nina"]).json()["id"]
    _chunk(client, desk["nina"], aid, 0, WEBM)
    _chunk(client, desk["nina"], aid, 2, b"-later-")
    played = client.get(f"/api/v1/alarms/{aid}/recording", headers=desk["olivia"])
    assert played.content == WEBM and played["X-Chunks-Waiting"] == "1"
    assert client.get(f"/api/v1/alarms/{aid}/recording", headers=desk["ben"]).status_code in (
        403, 404)


@pytest.mark.parametrize(("make", "status", "message"), [
    (lambda: (b"\x00" * (50 * 1024 * 1024), "audio/webm"), 413, "at most"),
    (lambda: (b"%PDF-1.7 not audio", "application/pdf"), 415, "not audio"),
    (lambda: (b"plain text pretending", "audio/webm"), 415, "does not look like"),
])
def test_alm_02_bad_audio_is_refused_and_changes_nothing(client, trust, desk, settings,
                                                         tmp_path, make, status, message):
    settings.DATA_DIR = tmp_path
    aid = post(client, "/api/v1/alarms", desk["nina"]).json()["id"]
    data, content_type = make()
    response = _chunk(client, desk["nina"], aid, 0, data, content_type)
    assert response.status_code == status and message in response.json()["detail"]
    from lonewatch.alarms.models import AudioChunk

    assert not AudioChunk.objects.exists() and not list(tmp_path.rglob("*.part"))


def test_alm_02_no_audio_for_a_closed_alarm(client, trust, desk, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    aid = post(client, "/api/v1/alarms", desk["nina"]).json()["id"]
    post(client, f"/api/v1/alarms/{aid}/cancel", desk["nina"], {"pin": "2468"})
    response = _chunk(client, desk["nina"], aid, 0, WEBM)
    assert response.status_code == 409 and "not open" in response.json()["detail"]


def test_alm_02_each_time_the_recording_grows_the_consoles_are_told(client, trust, desk,
                                                                   settings, tmp_path):
    settings.DATA_DIR = tmp_path
    aid = post(client, "/api/v1/alarms", desk["nina"]).json()["id"]
    parts = [WEBM, b"-cluster-1-", b"-cluster-2-", b"-cluster-3-"]
    for seq in (0, 2, 2, 1, 3):  # the chunk behind the gap tells nobody until it fills
        assert _chunk(client, desk["nina"], aid, seq, parts[seq]).status_code == 201
    told = Alarm.objects.get(pk=aid).events.filter(kind="audio")
    assert [e.data["playable"] for e in told] == [1, 3, 4]
    assert told.last().summary == "Audio received: 4 parts of the recording can be played"


def test_alm_02_console_plays_the_recording_signed_in_with_its_second_factor_audited(
        client, trust, desk, settings, tmp_path):
    from django.test import Client

    from lonewatch.core.models import AuditEvent
    from tests.conftest import login

    settings.DATA_DIR = tmp_path
    aid = post(client, "/api/v1/alarms", desk["nina"]).json()["id"]
    _chunk(client, desk["nina"], aid, 0, WEBM)
    url = f"/api/v1/alarms/{aid}/recording"
    # The console's own sign-in: without the second factor an operator hears nothing.
    assert login(Client(), trust.people["olivia"]).get(url).status_code == 401
    played = login(Client(), trust.people["olivia"], verified=True).get(url)
    assert played.status_code == 200 and played.content == WEBM
    assert played["Cache-Control"] == "no-store"
    assert login(Client(), trust.people["ben"]).get(url).status_code in (403, 404)
    assert Client().get(url).status_code == 401
    reads = AuditEvent.objects.filter(action="alarm.recording.read")
    assert [r.actor.username for r in reads] == ["olivia"]
