"""ALM-01, ALM-02 in a real browser, on the worker's phone: after a red alert the page
records and sends audio and where the worker is; an amber alert carries a voice memo.

Chromium runs with a fake microphone (a beeping test signal) and the prompts answered
yes, as a phone whose worker allowed the microphone and location."""

import re
import time

import pytest
from django.test import Client
from playwright.sync_api import expect

from lonewatch.accounts.actions import do_create_token
from lonewatch.alarms import actions
from lonewatch.alarms.models import Alarm, AudioChunk
from tests.browser import CHROMIUM, FLAGS, PHONE, screenshot
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HOME = {"latitude": 52.6641, "longitude": 0.1596, "accuracy": 20}
MOVED = {"latitude": 52.6702, "longitude": 0.1703, "accuracy": 12}


@pytest.fixture(scope="module")
def media_browser(browser):
    """A second chromium, from the same Playwright, with a fake microphone."""
    fake = browser.browser_type.launch(executable_path=CHROMIUM, args=FLAGS + [
        "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"])
    yield fake
    fake.close()


def _phone(browser, permissions=("microphone", "geolocation")):
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True,
                                  has_touch=True, locale="en-GB", geolocation=HOME,
                                  permissions=list(permissions))
    return context, context.new_page()


def _sign_in(page, live_server, username):
    page.goto(f"{live_server.url}/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name=re.compile("Hello"))).to_be_visible()
    page.get_by_role("link", name="My day").click()


def _hold_red_alert(page):
    page.get_by_role("button", name=re.compile("Hold for red alert")).hover()
    page.mouse.down()
    expect(page.get_by_text("Red alert sent.")).to_be_visible(timeout=10000)
    page.mouse.up()


def _until(check, timeout=20.0, message="never happened"):
    """Poll the database while the browser works (the page keeps running meanwhile)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if check():
            return
        time.sleep(0.25)
    raise AssertionError(message)


def test_alm_02_the_phone_records_and_sends_audio_and_location_after_a_red_alert(
        trust, nina_ready, start_session, live_server, media_browser, settings, tmp_path):
    settings.REQUIRE_TWO_FACTOR = False
    settings.DATA_DIR = tmp_path
    start_session()
    context, page = _phone(media_browser)
    try:
        _sign_in(page, live_server, "nina")
        _hold_red_alert(page)
        alarm = Alarm.objects.get(kind="red")
        expect(page.get_by_text("Recording — the alarm centre can hear you")).to_be_visible(
            timeout=10000)
        screenshot(page, "worker-red-alert-recording")

        # Slices arrive, numbered from 0 without a gap, the first a WebM header.
        _until(lambda: alarm.audio_chunks.count() >= 3, message="no audio arrived")
        seqs = list(alarm.audio_chunks.values_list("seq", flat=True))
        assert seqs == list(range(len(seqs)))
        assert {c.content_type for c in alarm.audio_chunks.all()} == {"audio/webm"}
        first = (tmp_path / "recordings" / str(alarm.pk) / "000000.part").read_bytes()
        assert first.startswith(b"\x1a\x45\xdf\xa3")

        # The phone says where it is, and again when it moves (at most every 10 s).
        _until(lambda: alarm.events.filter(kind="location").exists(),
               message="no location update arrived")
        context.set_geolocation(MOVED)
        _until(lambda: Alarm.objects.filter(pk=alarm.pk, lat=MOVED["latitude"]).exists(),
               message="the moved location never arrived")
        alarm.refresh_from_db()
        assert (alarm.lon, alarm.accuracy_m) == (MOVED["longitude"], 12.0)

        # The alarm centre plays what has come so far.
        olivia = trust.people["olivia"]
        desk = Client(headers={"Authorization": "Bearer " + do_create_token(
            olivia.user, name="desk", actor=None)[1]})
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
        _sign_in(page, live_server, "nina")
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
        _sign_in(page, live_server, "nina")
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
    memo = (tmp_path / "recordings" / str(amber.pk) / "000000.part").read_bytes()
    assert memo.startswith(b"\x1a\x45\xdf\xa3")
