"""ALM-01, ALM-02 in a real browser, on the worker's phone: after a red alert the page
records and sends audio and where the worker is, in a fresh take when the page loads
again mid-alarm; an amber alert carries a voice memo.

Chromium runs with a fake microphone (a beeping test signal) and the prompts answered
yes, as a phone whose worker allowed the microphone and location."""

import base64
import re

import pytest
from django.test import Client
from playwright.sync_api import expect

from lonewatch.alarms import actions, audio
from lonewatch.alarms.models import Alarm, AudioChunk
from lonewatch.core import vault
from tests.browser import screenshot, sign_in, until, worker_phone
from tests.conftest import token_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HOME = {"latitude": 52.6641, "longitude": 0.1596, "accuracy": 20}
MOVED = {"latitude": 52.6702, "longitude": 0.1703, "accuracy": 12}


def _phone(browser, permissions=("microphone", "geolocation")):
    return worker_phone(browser, geolocation=HOME, permissions=permissions)


def _sign_in_to_my_day(page, live_server, username):
    sign_in(page, live_server, username)
    page.get_by_role("link", name="My day").click()


def _hold_red_alert(page):
    page.get_by_role("button", name=re.compile("Hold for red alert")).hover()
    page.mouse.down()
    expect(page.get_by_text("Red alert sent.")).to_be_visible(timeout=10000)
    page.mouse.up()


def test_alm_02_the_phone_records_and_sends_audio_and_location_after_a_red_alert(
        trust, nina_ready, start_session, live_server, media_browser, settings, tmp_path):
    settings.REQUIRE_TWO_FACTOR = False
    settings.DATA_DIR = tmp_path
    start_session()
    context, page = _phone(media_browser)
    try:
        _sign_in_to_my_day(page, live_server, "nina")
        _hold_red_alert(page)
        alarm = Alarm.objects.get(kind="red")
        expect(page.get_by_text("Recording — the alarm centre can hear you")).to_be_visible(
            timeout=10000)
        screenshot(page, "worker-red-alert-recording")

        # Slices arrive, numbered from 0 without a gap, the first a WebM header.
        until(lambda: alarm.audio_chunks.count() >= 3, message="no audio arrived")
        seqs = list(alarm.audio_chunks.values_list("seq", flat=True))
        assert seqs == list(range(len(seqs)))
        assert {c.content_type for c in alarm.audio_chunks.all()} == {"audio/webm"}
        first = vault.read(alarm.audio_chunks.get(seq=0).file)
        assert first.startswith(b"\x1a\x45\xdf\xa3")

        # The phone says where it is, and again when it moves (at most every 10 s).
        until(lambda: alarm.events.filter(kind="location").exists(),
               message="no location update arrived")
        context.set_geolocation(MOVED)
        until(lambda: Alarm.objects.filter(pk=alarm.pk, lat=MOVED["latitude"]).exists(),
               message="the moved location never arrived")
        alarm.refresh_from_db()
        assert (alarm.lon, alarm.accuracy_m) == (MOVED["longitude"], 12.0)

        # The alarm centre plays what has come so far.
        olivia = trust.people["olivia"]
        actions.do_duty(olivia, on=True, actor=olivia.user)  # REC-03: on duty, she hears it
        desk = Client(headers={"Authorization": "Bearer " + token_for(olivia, "desk")})
        played = desk.get(f"/api/v1/alarms/{alarm.pk}/recording")
        assert played.status_code == 200 and played["Content-Type"] == "audio/webm"
        assert played.content.startswith(b"\x1a\x45\xdf\xa3") and len(played.content) > 1000

        # Closed by the operator: the phone hears it on its next slice and stops.
        actions.do_acknowledge(alarm, actor=olivia.user)
        actions.do_close(alarm, actor=olivia.user, category="genuine_closed_safely")
        expect(page.get_by_text("Your alarm is closed")).to_be_visible(timeout=10000)
        expect(page.get_by_text("Recording has stopped.")).to_be_visible()
        count = alarm.audio_chunks.count()
        page.wait_for_timeout(4000)  # longer than a slice
        assert alarm.audio_chunks.count() == count
    finally:
        context.close()


def test_alm_02_a_refused_microphone_leaves_the_alarm_standing(trust, nina_ready, live_server,
                                                               browser, settings):
    settings.REQUIRE_TWO_FACTOR = False
    context, page = _phone(browser, permissions=("geolocation",))  # no microphone
    try:
        _sign_in_to_my_day(page, live_server, "nina")
        _hold_red_alert(page)
        expect(page.get_by_text("The microphone is off: the alarm centre cannot hear you")
               ).to_be_visible(timeout=10000)
        expect(page.get_by_text(re.compile("Your red alert still stands"))).to_be_visible()
        screenshot(page, "worker-red-alert-no-microphone")
    finally:
        context.close()
    alarm = Alarm.objects.get()
    assert alarm.is_open and not AudioChunk.objects.exists()


def test_alm_01_amber_alert_with_a_voice_memo_recorded_on_the_phone(
        trust, nina_ready, live_server, media_browser, settings, tmp_path):
    settings.REQUIRE_TWO_FACTOR = False
    settings.DATA_DIR = tmp_path
    context, page = _phone(media_browser)
    try:
        _sign_in_to_my_day(page, live_server, "nina")
        page.locator("summary", has_text="Amber alert").click()
        page.get_by_label("What should the alarm centre know?").fill("Going in: dog in the house")
        record = page.get_by_role("button", name="Record a voice memo")
        # A memo can be thrown away and said again.
        record.click()
        expect(page.get_by_role("button", name="Stop recording")).to_be_visible()
        page.wait_for_timeout(1000)
        page.get_by_role("button", name="Stop recording").click()
        page.get_by_role("button", name="Discard the voice memo").click()
        expect(page.get_by_text("Voice memo discarded.")).to_be_visible()
        record.click()
        page.wait_for_timeout(2000)
        page.get_by_role("button", name="Stop recording").click()
        expect(page.get_by_text(re.compile(r"Voice memo recorded \(0:0[23]\)"))).to_be_visible()
        playback = page.get_by_label("Your voice memo")
        expect(playback).to_be_visible()
        # Played back before it is sent: the browser can decode what it recorded.
        page.wait_for_function("document.querySelector('.lw-memo__playback').readyState >= 1")
        screenshot(page, "worker-amber-voice-memo")
        page.get_by_role("button", name="Log amber alert").click()
        expect(page.get_by_text("Amber alert logged with your location and your voice memo.")
               ).to_be_visible(timeout=10000)
    finally:
        context.close()
    amber = Alarm.objects.get()
    assert (amber.kind, amber.message, amber.lat) == ("amber", "Going in: dog in the house",
                                                      HOME["latitude"])
    chunk = amber.audio_chunks.get()
    assert chunk.seq == 0 and chunk.content_type == "audio/webm" and chunk.size > 1000
    memo = vault.read(chunk.file)
    assert memo.startswith(b"\x1a\x45\xdf\xa3")


# How long chromium hears a file: decoded whole, and played in an <audio> element to its
# end (fast, and muted), as the console plays a take.
HEAR = """async (b64) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  let decoded = null;
  try {
    const context = new OfflineAudioContext(1, 1, 48000);
    decoded = (await context.decodeAudioData(bytes.buffer.slice(0))).duration;
  } catch (e) { decoded = null; }
  const player = new Audio(URL.createObjectURL(new Blob([bytes], {type: "audio/webm"})));
  player.muted = true;
  const played = await new Promise((done) => {
    player.onended = () => done(player.currentTime);
    player.onerror = () => done(-1);
    player.onloadedmetadata = () => { player.playbackRate = 8; player.play(); };
  });
  return {decoded: decoded, played: played};
}"""


def _hear(page, data: bytes) -> dict:
    return page.evaluate(HEAR, base64.b64encode(data).decode())


def test_alm_02_a_page_reloaded_mid_alarm_records_a_second_take_and_both_play(
        trust, nina_ready, start_session, live_server, media_browser, settings, tmp_path):
    settings.REQUIRE_TWO_FACTOR = False
    settings.DATA_DIR = tmp_path
    start_session()
    context, page = _phone(media_browser)
    try:
        _sign_in_to_my_day(page, live_server, "nina")
        _hold_red_alert(page)
        alarm = Alarm.objects.get(kind="red")
        recording = page.get_by_text("Recording — the alarm centre can hear you")
        expect(recording).to_be_visible(timeout=10000)
        until(lambda: alarm.audio_chunks.count() >= 2, message="no audio arrived")

        # The phone reloads the page mid-alarm: recording carries on, as a fresh take.
        page.reload()
        expect(recording).to_be_visible(timeout=10000)
        until(lambda: alarm.audio_chunks.filter(seq__gte=1000).count() >= 2,
               message="no audio arrived after the reload")
    finally:
        context.close()
    takes = audio.takes(alarm)
    assert [t.first_seq for t in takes] == [0, 1000]
    assert all(len(t.parts) >= 2 and not t.waiting for t in takes)

    olivia = trust.people["olivia"]
    actions.do_duty(olivia, on=True, actor=olivia.user)  # REC-03: operators on duty hear it
    desk = Client(headers={"Authorization": "Bearer " + token_for(olivia, "desk")})
    listed = desk.get(f"/api/v1/alarms/{alarm.pk}/recording/takes").json()
    assert [t["first_seq"] for t in listed["takes"]] == [0, 1000]
    played = [desk.get(f"/api/v1/alarms/{alarm.pk}/recording?take={n}") for n in (1, 2)]
    assert [p["X-Lonewatch-Takes"] for p in played] == ["2", "2"]
    listen = media_browser.new_context()
    try:
        page = listen.new_page()
        page.set_content("<title>Listen</title>")
        heard = [_hear(page, p.content) for p in played]
        joined = _hear(page, played[0].content + played[1].content)
    finally:
        listen.close()
    # Each take plays to its end: every 3-second slice of it is heard.
    for take, each in zip(takes, heard, strict=True):
        assert each["decoded"] > 3 * len(take.parts) - 1, (take, each)
        assert each["played"] > 3 * len(take.parts) - 1, (take, each)
    # Why takes: joined into one file, the player stops at the second header.
    assert joined["played"] < heard[0]["played"] + 1 < sum(h["played"] for h in heard)
    assert alarm.events.filter(kind="audio", summary__contains="take 2 started").exists()


def test_alm_02_a_reloaded_pages_take_moves_when_an_earlier_loads_header_took_its_place(
        trust, nina_ready, start_session, live_server, media_browser, settings, tmp_path):
    """No audio had reached the server when the page loaded again, so both loads were told
    to start at 0; the first load's slices, sent as it closed, come after that. The
    reloaded page's header finds its place taken and moves its whole take on."""
    settings.REQUIRE_TWO_FACTOR = False
    settings.DATA_DIR = tmp_path
    start_session()
    context, page = _phone(media_browser)
    audio_posts = re.compile(r"/my-day/alarms/\d+/audio\?seq=")
    try:
        _sign_in_to_my_day(page, live_server, "nina")
        _hold_red_alert(page)
        alarm = Alarm.objects.get(kind="red")
        # No signal for audio: the first load's slices wait on the phone.
        context.route(audio_posts, lambda route: route.abort("internetdisconnected"))
        expect(page.get_by_text(re.compile("parts of the recording are waiting"))).to_be_visible(
            timeout=15000)
        page.reload()
        expect(page.locator("#live-alarm")).to_have_attribute("data-seq", "0")
        # The first load sent what it had as it closed (keepalive, past the lost signal).
        until(lambda: alarm.audio_chunks.exists(), message="the first load's slices never came")
        context.unroute(audio_posts)
        until(lambda: alarm.audio_chunks.filter(seq__gte=1000).count() >= 2,
              message="the reloaded page's take never arrived")
    finally:
        context.close()
    takes = audio.takes(alarm)
    assert [t.first_seq for t in takes] == [0, 1000]
    assert [t.waiting for t in takes] == [0, 0] and len(takes[1].parts) >= 2
    olivia = trust.people["olivia"]
    actions.do_duty(olivia, on=True, actor=olivia.user)  # REC-03: operators on duty hear it
    desk = Client(headers={"Authorization": "Bearer " + token_for(olivia, "desk")})
    listen = media_browser.new_context()
    try:
        page = listen.new_page()
        page.set_content("<title>Listen</title>")
        for take in takes:
            played = desk.get(f"/api/v1/alarms/{alarm.pk}/recording?take={take.number}")
            heard = _hear(page, played.content)
            assert heard["played"] > 3 * len(take.parts) - 1, (take, heard)
    finally:
        listen.close()
