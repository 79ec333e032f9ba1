"""ALM-01, ALM-02 on the worker's own page, signed in (no API token): the phone sends
its red alert's audio and locations, and an amber alert carries a voice memo. The rules
are the API's (``audio.add_chunk``, ``do_add_location``); only the way in differs."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth.hashers import make_password
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from lonewatch import clock
from lonewatch.alarms import actions
from lonewatch.alarms.models import Alarm, AudioChunk
from tests.conftest import login, token_for

WEBM = b"\x1a\x45\xdf\xa3" + b"header-and-first-cluster"


@pytest.fixture(autouse=True)
def _data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path


@pytest.fixture
def nina(client, nina_ready):
    return login(client, nina_ready)


def _red(client) -> Alarm:
    response = client.post("/my-day/alert/red", {"lat": "52.6641", "lon": "0.1596",
                                                 "accuracy": "35"})
    assert response.status_code == 302
    return Alarm.objects.get(kind="red")


def _slice(client, alarm, seq, data=WEBM, content_type="audio/webm;codecs=opus", **extra):
    return client.post(f"/my-day/alarms/{alarm.pk}/audio?seq={seq}", data,
                       content_type=content_type, **extra)


def _bearer(person):
    return {"Authorization": f"Bearer {token_for(person)}"}


def test_alm_02_the_page_sends_audio_slices_that_build_the_recording(nina, trust):
    alarm = _red(nina)
    parts = [WEBM, b"-cluster-1-", b"-cluster-2-"]
    for seq in (0, 2, 1, 1):  # late, out of order and twice, as a phone in poor signal
        response = _slice(nina, alarm, seq, parts[seq])
        assert response.status_code == 201, response.content
    assert response.json() == {"seq": 1, "size": len(parts[1]), "received": 3,
                               "starts_take": False}
    assert list(alarm.audio_chunks.values_list("seq", "content_type")) == [
        (0, "audio/webm"), (1, "audio/webm"), (2, "audio/webm")]
    olivia = trust.people["olivia"]
    actions.do_duty(olivia, on=True, actor=olivia.user)  # REC-03: operators on duty hear it
    played = Client().get(f"/api/v1/alarms/{alarm.pk}/recording", headers=_bearer(olivia))
    assert played.status_code == 200 and played.content == b"".join(parts)


def test_alm_02_the_page_sends_where_the_worker_is_now(nina):
    alarm = _red(nina)
    response = nina.post(f"/my-day/alarms/{alarm.pk}/locations",
                         {"lat": "52.6702", "lon": "0.1703", "accuracy": "12"})
    assert response.status_code == 200, response.content
    alarm.refresh_from_db()
    assert (alarm.lat, alarm.lon, alarm.accuracy_m) == (52.6702, 0.1703, 12.0)
    assert alarm.events.filter(kind="location").count() == 1


@pytest.mark.parametrize("who", ["otto", "maria", "ben", "olivia", "leslie"])
def test_alm_02_only_the_alarms_own_worker_adds_audio_or_locations(trust, nina_ready,
                                                                  start_session, who):
    start_session()  # Ben watches Nina's session, so he may see her alarm
    alarm = actions.do_raise(nina_ready, actor=nina_ready.user, kind="red")
    other = login(Client(), trust.people[who], verified=True)
    heard = _slice(other, alarm, 0)
    moved = other.post(f"/my-day/alarms/{alarm.pk}/locations", {"lat": "52.0", "lon": "0.1"})
    # Otto cannot see the alarm at all; the others see it but cannot add to it.
    expected = 404 if who == "otto" else 403
    assert (heard.status_code, moved.status_code) == (expected, expected)
    assert not AudioChunk.objects.exists()
    assert not alarm.events.filter(kind="location").exists()


def test_alm_02_signed_out_adds_nothing(nina_ready):
    alarm = actions.do_raise(nina_ready, actor=nina_ready.user, kind="red")
    response = _slice(Client(), alarm, 0)
    assert response.status_code == 302 and "/login" in response["Location"]
    assert not AudioChunk.objects.exists()


@pytest.mark.parametrize(("seq", "data", "content_type", "status", "message"), [
    ("x", WEBM, "audio/webm", 400, "seq must be a whole number"),
    ("-1", WEBM, "audio/webm", 400, "seq must be a whole number"),
    ("0", b"%PDF-1.7 not audio", "application/pdf", 415, "not audio"),
    ("0", b"plain text pretending", "audio/webm", 415, "does not look like"),
])
def test_alm_02_bad_audio_from_the_page_is_refused_plainly(nina, seq, data, content_type,
                                                         status, message):
    alarm = _red(nina)
    response = nina.post(f"/my-day/alarms/{alarm.pk}/audio?seq={seq}", data,
                         content_type=content_type)
    assert response.status_code == status and message in response.json()["detail"]
    assert not AudioChunk.objects.exists()


def test_alm_02_an_oversized_slice_is_refused_before_it_is_read(nina, settings):
    settings.ALARM_AUDIO_CHUNK_BYTES = 1000
    alarm = _red(nina)
    response = _slice(nina, alarm, 0, WEBM + b"\x00" * 2000)
    assert response.status_code == 413 and "at most 1000 bytes" in response.json()["detail"]


def test_alm_02_a_closed_alarm_takes_no_more_and_tells_the_page_to_stop(nina, trust):
    alarm = _red(nina)
    assert _slice(nina, alarm, 0).status_code == 201
    olivia = trust.people["olivia"].user
    actions.do_acknowledge(alarm, actor=olivia)
    actions.do_close(alarm, actor=olivia, category="genuine_closed_safely")
    heard = _slice(nina, alarm, 1, b"-late-")
    assert heard.status_code == 409 and heard.json()["alarm_open"] is False
    moved = nina.post(f"/my-day/alarms/{alarm.pk}/locations", {"lat": "52.0", "lon": "0.1"})
    assert moved.status_code == 409 and moved.json()["alarm_open"] is False


@pytest.mark.parametrize(("body", "message"), [
    ({"lat": "north", "lon": "0.1"}, "could not be read"),
    ({"lat": "52.0"}, "both latitude and longitude"),
    ({"lat": "95", "lon": "0.1"}, "Latitude must be between"),
])
def test_alm_02_bad_locations_from_the_page_are_refused_plainly(nina, body, message):
    alarm = _red(nina)
    response = nina.post(f"/my-day/alarms/{alarm.pk}/locations", body)
    assert response.status_code == 400 and message in response.json()["detail"]


def test_alm_02_no_location_is_kept_without_the_workers_consent(nina, nina_ready):
    nina_ready.location_consent_at = None
    nina_ready.save()
    alarm = _red(nina)
    response = nina.post(f"/my-day/alarms/{alarm.pk}/locations", {"lat": "52.0", "lon": "0.1"})
    assert response.status_code == 400 and "not agreed" in response.json()["detail"]
    assert "data-locate" not in nina.get("/my-day/").content.decode()


def test_alm_02_the_page_needs_its_csrf_token(nina_ready):
    strict = login(Client(enforce_csrf_checks=True), nina_ready)
    alarm = actions.do_raise(nina_ready, actor=nina_ready.user, kind="red")
    assert _slice(strict, alarm, 0).status_code == 403
    assert strict.post(f"/my-day/alarms/{alarm.pk}/locations",
                       {"lat": "52.0", "lon": "0.1"}).status_code == 403
    assert not AudioChunk.objects.exists()
    page = strict.get("/my-day/").content.decode()
    token = re.search(r'data-csrf="([^"]+)"', page).group(1)
    assert _slice(strict, alarm, 0, HTTP_X_CSRFTOKEN=token).status_code == 201


def _live(page: str) -> dict:
    found = re.search(r'<div id="live-alarm"([^>]*)>', page, re.S)
    if found is None:
        return {}
    return dict(re.findall(r'data-([a-z-]+)(?:="([^"]*)")?', found.group(1)))


def test_alm_02_the_page_records_while_the_red_alert_it_raised_is_open(nina, trust,
                                                                      time_machine):
    time_machine.move_to("2026-11-02 10:00:00+00:00", tick=False)
    alarm = _red(nina)
    _slice(nina, alarm, 0)
    page = nina.get("/my-day/").content.decode()
    live = _live(page)
    assert live["audio"] == f"/my-day/alarms/{alarm.pk}/audio"
    assert live["locations"] == f"/my-day/alarms/{alarm.pk}/locations"
    # Loaded again mid-alarm, the page records a fresh take, numbered clear of the first.
    assert live["seq"] == "1000" and "record" in live and "locate" in live
    assert "The alarm centre is dealing with it." in page
    time_machine.move_to("2026-11-02 10:15:01+00:00", tick=False)
    later = _live(nina.get("/my-day/").content.decode())
    assert "record" not in later and "locations" in later  # no more audio; location goes on
    olivia = trust.people["olivia"].user
    actions.do_acknowledge(alarm, actor=olivia)
    actions.do_close(alarm, actor=olivia, category="genuine")
    assert _live(nina.get("/my-day/").content.decode()) == {}


def test_alm_02_a_discreet_alarm_records_without_showing_it(nina, nina_ready):
    actions.do_raise(nina_ready, actor=nina_ready.user, kind="red", source="discreet")
    page = nina.get("/my-day/").content.decode()
    assert "discreet" in _live(page) and "record" in _live(page)
    assert "lw-live-alarm" not in page and "dealing with it" not in page


def test_mov_04_after_the_duress_pin_the_phone_stops_as_if_cancelled(nina, nina_ready):
    nina_ready.duress_pin_hash = make_password("9753")
    nina_ready.save()
    alarm = _red(nina)
    assert _live(nina.get("/my-day/").content.decode())
    nina.post(f"/my-day/alarms/{alarm.pk}/cancel", {"pin": "9753"})
    alarm.refresh_from_db()
    assert alarm.is_open and alarm.source == "duress"  # still live at the alarm centre
    assert _live(nina.get("/my-day/").content.decode()) == {}  # the phone shows nothing


def test_alm_02_an_alarm_the_phone_did_not_raise_does_not_record(nina, nina_ready):
    actions.do_raise(nina_ready, actor=nina_ready.user, kind="red", source="device")
    assert _live(nina.get("/my-day/").content.decode()) == {}


def _memo(data=WEBM, content_type="audio/webm"):
    return SimpleUploadedFile("voice-memo.webm", data, content_type=content_type)


def test_alm_01_amber_alert_with_a_voice_memo_from_the_page(nina, trust):
    page = nina.post("/my-day/alert/amber", {"message": "Going in: dog in the house",
                                             "lat": "52.6641", "lon": "0.1596",
                                             "memo": _memo()}, follow=True)
    assert "Amber alert logged with your location and your voice memo." in (
        page.content.decode())
    amber = Alarm.objects.get()
    assert (amber.kind, amber.state, amber.message) == ("amber", "logged",
                                                        "Going in: dog in the house")
    assert list(amber.audio_chunks.values_list("seq", "size")) == [(0, len(WEBM))]
    actions.do_duty(trust.people["olivia"], on=True, actor=trust.people["olivia"].user)
    olivia = login(Client(), trust.people["olivia"], verified=True)
    played = olivia.get(f"/api/v1/alarms/{amber.pk}/recording")
    assert played.status_code == 200 and played.content == WEBM
    console = olivia.get("/console/").content.decode()
    assert f'href="/api/v1/alarms/{amber.pk}/recording"' in console
    assert "Play the voice memo" in console


def test_alm_01_amber_alert_without_a_memo_still_works(nina):
    page = nina.post("/my-day/alert/amber", {"message": "Going in"}, follow=True)
    # No location came with it: the page does not claim one (ALM-01).
    assert "Amber alert logged." in page.content.decode()
    assert Alarm.objects.get().audio_chunks.count() == 0
    page = nina.post("/my-day/alert/amber", {"message": "Again", "lat": "52.66",
                                             "lon": "0.16"}, follow=True)
    assert "Amber alert logged with your location." in page.content.decode()


@pytest.mark.parametrize(("memo", "message"), [
    (lambda: _memo(b"%PDF-1.7", "application/pdf"), "not audio"),
    (lambda: _memo(b"plain text pretending"), "does not look like"),
    (lambda: _memo(WEBM + b"\x00" * 2000), "too long"),
])
def test_alm_01_a_memo_that_cannot_be_kept_logs_no_amber(nina, settings, memo, message):
    settings.ALARM_AUDIO_CHUNK_BYTES = 1000
    page = nina.post("/my-day/alert/amber", {"message": "Going in", "memo": memo()},
                     follow=True).content.decode()
    assert "Your amber alert was not logged" in page and message in page
    assert not Alarm.objects.exists() and not AudioChunk.objects.exists()


def test_alm_01_api_sends_an_ambers_memo_after_it_within_ten_minutes(client, trust,
                                                                    nina_ready, time_machine):
    time_machine.move_to("2026-11-02 10:00:00+00:00", tick=False)
    phone = _bearer(nina_ready)
    aid = client.post("/api/v1/ambers", {"message": "Going in"},
                      content_type="application/json", headers=phone).json()["id"]
    memo = client.post(f"/api/v1/alarms/{aid}/audio?seq=0", WEBM, content_type="audio/webm",
                       headers=phone)
    assert memo.status_code == 201, memo.content
    time_machine.move_to(clock.now() + timedelta(minutes=10, seconds=1), tick=False)
    late = client.post(f"/api/v1/alarms/{aid}/audio?seq=1", b"-more-",
                       content_type="audio/webm", headers=phone)
    assert late.status_code == 409 and "within 10 minutes" in late.json()["detail"]
    ben = client.post(f"/api/v1/alarms/{aid}/audio?seq=1", b"-more-",
                      content_type="audio/webm", headers=_bearer(trust.people["ben"]))
    assert ben.status_code in (403, 404)
