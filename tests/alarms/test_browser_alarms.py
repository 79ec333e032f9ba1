"""ALM-02, ALM-03 in a real browser: a worker holds the red alert on their phone, which
records; an operator sees it arrive, acknowledges, listens, escalates and closes it on
the console, locates the worker on the map and listens to the recording while it grows."""

import base64
import re

import pytest
from django.test import Client
from playwright.sync_api import expect

from lonewatch.accounts.actions import do_create_token
from lonewatch.alarms import actions
from lonewatch.alarms.models import Alarm
from lonewatch.core.models import AuditEvent
from tests.browser import PHONE, screenshot, sign_in, sign_in_with_code, until, worker_phone

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WISBECH = {"latitude": 52.6641, "longitude": 0.1596, "accuracy": 20}

# Every microphone the page opens, so the test can see it let go of them.
MICROPHONES = """(() => {
  window.lwMicrophones = [];
  if (!navigator.mediaDevices) { return; }
  const ask = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  navigator.mediaDevices.getUserMedia = (wanted) => ask(wanted).then((stream) => {
    window.lwMicrophones.push(stream);
    return stream;
  });
})();"""
MICROPHONES_OFF = """() => window.lwMicrophones.length > 0 && window.lwMicrophones.every(
  (stream) => stream.getTracks().every((track) => track.readyState === "ended"))"""
# The console's event stream, so the test knows it is listening (a new stream starts
# from the moment it opens).
STREAMS = """(() => {
  const Real = window.EventSource;
  window.lwStreams = [];
  window.EventSource = function (url, options) {
    const stream = new Real(url, options);
    window.lwStreams.push(stream);
    return stream;
  };
})();"""
LISTENING = "() => window.lwStreams.some((stream) => stream.readyState === 1)"  # open


def _playing(past: float) -> str:
    """The console's player is playing, past this second of its take."""
    return f"""() => {{
  const player = document.getElementById("focus-audio");
  return !player.paused && player.currentTime > {past};
}}"""


def test_alm_02_03_worker_raises_red_alarm_and_operator_acknowledges_listens_escalates_and_closes_it(  # noqa: E501
        trust, nina_ready, start_session, live_server, browser, media_browser, settings,
        tmp_path):
    settings.REQUIRE_TWO_FACTOR = True  # the operator signs in with their second factor
    settings.DATA_DIR = tmp_path
    olivia = trust.people["olivia"]
    actions.do_duty(olivia, on=True, actor=olivia.user)
    start_session()
    worker, phone = worker_phone(media_browser, geolocation=WISBECH)
    worker.add_init_script(MICROPHONES)
    desk = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    desk.add_init_script(STREAMS)
    console = desk.new_page()
    try:
        # The operator is at the console before anything happens.
        sign_in_with_code(console, live_server, olivia)
        console.get_by_role("link", name="Console").click()
        expect(console.get_by_role("heading", name="Alarm console")).to_be_visible()
        assert console.get_by_role("heading", name=re.compile("Red alerts waiting")).count() == 0
        console.wait_for_function(LISTENING)
        console.evaluate("window.lwSameConsole = true")

        # The worker holds the red alert on "My day" (a short press sends nothing).
        sign_in(phone, live_server, "nina")
        phone.get_by_role("link", name="My day").click()
        button = phone.get_by_role("button", name=re.compile("Hold for red alert"))
        button.hover()
        phone.mouse.down()
        phone.wait_for_timeout(300)
        phone.mouse.up()
        assert not Alarm.objects.exists()
        button.hover()
        phone.mouse.down()
        expect(phone.get_by_text("Red alert sent.")).to_be_visible(timeout=10000)
        phone.mouse.up()
        alarm = Alarm.objects.get()
        assert (alarm.kind, alarm.state) == ("red", "raised")
        expect(phone.get_by_text("Recording — the alarm centre can hear you")).to_be_visible(
            timeout=10000)
        screenshot(phone, "worker-red-alert")

        # It arrives on the console live, without the operator reloading.
        expect(console.get_by_role("heading", name="Red alerts waiting (1)")).to_be_visible(
            timeout=10000)
        expect(console.get_by_role("heading", name="Nina: location and recording")
               ).to_be_visible()
        assert console.evaluate("window.lwSameConsole") is True
        console.keyboard.press("a")  # keyboard-driven: acknowledge the oldest red alert
        expect(console.get_by_text(re.compile("Done: acknowledge"))).to_be_visible()
        console.get_by_role("button", name="Listening and locating").click()
        expect(console.get_by_text(re.compile("Done: assess"))).to_be_visible()

        # The operator listens to what the phone has sent: it plays, and is audited.
        until(lambda: alarm.audio_chunks.count() >= 2, message="no audio arrived")
        expect(console.get_by_role("heading", name="Nina: location and recording")
               ).to_be_visible()
        assert not AuditEvent.objects.filter(action="alarm.recording.read").exists()
        console.keyboard.press("p")
        console.wait_for_function(_playing(1), timeout=15000)
        expect(console.get_by_role("button", name="Pause recording")).to_be_visible()
        reads = AuditEvent.objects.filter(action="alarm.recording.read", object_id=str(alarm.pk))
        assert reads.exists() and {r.actor.username for r in reads} == {"olivia"}
        screenshot(console, "operator-console-listening")

        console.locator("summary", has_text="Escalate").click()
        console.get_by_label("Incident reference (999 calls)").fill("CAD-4411")
        console.get_by_role("button", name="Escalate", exact=True).click()
        expect(console.get_by_text("Reference CAD-4411.")).to_be_visible()
        console.locator("summary", has_text="Close").click()
        console.get_by_label("What was it?").select_option("genuine_closed_safely")
        console.get_by_role("button", name="Close alarm").click()
        expect(console.get_by_text(re.compile("Done: close"))).to_be_visible()
        screenshot(console, "operator-console")

        # The worker's phone learns the alarm is closed and lets go of the microphone.
        expect(phone.get_by_text("Your alarm is closed")).to_be_visible(timeout=15000)
        expect(phone.get_by_text("Recording has stopped.")).to_be_visible()
        phone.wait_for_function(MICROPHONES_OFF)
        screenshot(phone, "worker-red-alert-closed")
    finally:
        desk.close()
        worker.close()
    alarm.refresh_from_db()
    assert (alarm.state, alarm.category, alarm.emergency_reference) == (
        "closed", "genuine_closed_safely", "CAD-4411")
    # Messages that could not go (the test trust keeps no email addresses) are lines too.
    lines = alarm.events.exclude(kind__in=["audio", "location", "delivery_failed"])
    assert [e.kind for e in lines] == [
        "raised", "acknowledged", "assessing", "escalated", "closed"]
    assert alarm.events.filter(kind="audio").exists()


# What a worker's phone sends during a red alert: the browser's MediaRecorder, in
# slices, each posted as it comes (webm with Opus, as Chrome and Android record).
RECORD = """async ([seconds, slice]) => {
  const context = new AudioContext();
  const tone = context.createOscillator();
  const out = context.createMediaStreamDestination();
  tone.frequency.value = 440;
  tone.connect(out);
  tone.start();
  const recorder = new MediaRecorder(out.stream, {mimeType: "audio/webm;codecs=opus"});
  const parts = [];
  recorder.ondataavailable = (event) => parts.push(event.data);
  const stopped = new Promise((done) => { recorder.onstop = done; });
  recorder.start(slice);
  await new Promise((done) => setTimeout(done, seconds * 1000));
  recorder.stop();
  await stopped;
  return Promise.all(parts.map((part) => new Promise((done) => {
    const reader = new FileReader();
    reader.onload = () => done(reader.result.split(",")[1]);
    reader.readAsDataURL(part);
  })));
}"""


def _record_audio(browser, seconds: float, slice_ms: int) -> list[bytes]:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.set_content("<title>Phone</title>")
        return [base64.b64decode(part) for part in page.evaluate(RECORD, [seconds, slice_ms])]
    finally:
        context.close()


def _playback_reads(alarm_id) -> list[str]:
    return list(AuditEvent.objects.filter(action="alarm.recording.read",
                                          object_id=str(alarm_id))
                .values_list("actor__username", flat=True))


def test_alm_02_operator_locates_the_worker_on_the_map_and_listens_as_the_recording_grows(
        trust, nina_ready, start_session, live_server, browser, settings, tmp_path):
    settings.REQUIRE_TWO_FACTOR = False
    settings.DATA_DIR = tmp_path
    settings.MAP_TILE_URL = ""  # no tiles: the point, its circle and the address still show
    olivia = trust.people["olivia"]
    actions.do_duty(olivia, on=True, actor=olivia.user)
    start_session()
    phone = Client(headers={
        "Authorization": f"Bearer {do_create_token(nina_ready.user, name='phone', actor=None)[1]}"})
    parts = _record_audio(browser, seconds=3, slice_ms=500)
    assert len(parts) >= 5 and parts[0].startswith(b"\x1a\x45\xdf\xa3")  # webm
    aid = phone.post("/api/v1/alarms", {"lat": 52.6641, "lon": 0.1596, "accuracy_m": 35},
                     content_type="application/json").json()["id"]

    def send_audio(seq):
        response = phone.post(f"/api/v1/alarms/{aid}/audio?seq={seq}", parts[seq],
                              content_type="audio/webm")
        assert response.status_code == 201, response.content

    for seq in range(3):
        send_audio(seq)
    desk = browser.new_context(viewport={"width": 1280, "height": 900})
    page = desk.new_page()
    try:
        sign_in(page, live_server, "olivia")
        page.get_by_role("link", name="Console").click()
        focus = page.locator("#alarm-focus")
        expect(focus.get_by_role("heading", name="Nina: location and recording")).to_be_visible()
        # The map is not the only way to know where: the same in words.
        expect(focus.locator("#focus-place")).to_have_text("12 Acacia Avenue, Wisbech PE13 1AB")
        expect(focus.get_by_text(re.compile(r"52\.66410, 0\.15960, accurate to about 35 m"))
               ).to_be_visible()
        where = page.locator("#alarm-map")
        expect(where.locator(".leaflet-marker-icon")).to_be_visible()
        expect(where.locator("path.lw-accuracy")).to_be_visible()
        expect(where.locator(".lw-map-label")).to_contain_text("12 Acacia Avenue")
        assert where.locator(".leaflet-tile").count() == 0
        screenshot(page, "console-map")

        # The phone sends a new position: the point and the words move, no reload.
        moved = phone.post(f"/api/v1/alarms/{aid}/locations",
                           {"lat": 52.6702, "lon": 0.1703, "accuracy_m": 12},
                           content_type="application/json")
        assert moved.status_code == 200, moved.content
        expect(where).to_have_attribute("data-lat", "52.6702", timeout=10000)
        expect(where).to_have_attribute("data-lon", "0.1703")
        expect(focus.get_by_text(re.compile(r"52\.67020, 0\.17030, accurate to about 12 m"))
               ).to_be_visible()
        expect(where.locator("path.lw-accuracy")).to_be_visible()

        # "p" plays the recording, through the audited endpoint.
        assert _playback_reads(aid) == []
        page.keyboard.press("p")
        page.wait_for_function("document.getElementById('focus-audio').currentTime > 0.3")
        expect(page.get_by_role("button", name="Pause recording")).to_be_visible()
        assert _playback_reads(aid) == ["olivia"]

        # More audio comes while the operator listens: it plays on from where they were.
        for seq in range(3, len(parts)):
            send_audio(seq)
        page.wait_for_function("document.getElementById('focus-audio').currentTime > 1.8",
                               timeout=15000)
        reads = _playback_reads(aid)
        assert len(reads) >= 2 and set(reads) == {"olivia"}
        page.keyboard.press("p")
        expect(page.get_by_role("button", name="Play recording")).to_be_visible()
        screenshot(page, "console-map-listening")
        page.set_viewport_size(PHONE)
        expect(where.locator(".leaflet-marker-icon")).to_be_visible()
        screenshot(page, "console-map-phone")
    finally:
        desk.close()
    assert [e.kind for e in Alarm.objects.get(pk=aid).events.all()].count("audio") == len(parts)


def test_alm_02_console_plays_take_after_take_and_follows_the_newest(
        trust, nina_ready, live_server, browser, settings, tmp_path):
    """The phone's page loaded again mid-alarm (or a device restarted its recorder): each
    fresh take is played after the last, and the player follows the newest as it comes."""
    settings.REQUIRE_TWO_FACTOR = False
    settings.DATA_DIR = tmp_path
    olivia = trust.people["olivia"]
    actions.do_duty(olivia, on=True, actor=olivia.user)
    phone = Client(headers={
        "Authorization": f"Bearer {do_create_token(nina_ready.user, name='phone', actor=None)[1]}"})
    parts = _record_audio(browser, seconds=2, slice_ms=500)
    aid = phone.post("/api/v1/alarms", {}, content_type="application/json").json()["id"]

    def send_take(first_seq):
        for seq, part in enumerate(parts, start=first_seq):
            response = phone.post(f"/api/v1/alarms/{aid}/audio?seq={seq}", part,
                                  content_type="audio/webm")
            assert response.status_code == 201, response.content

    send_take(0)
    send_take(1000)  # the page loaded again: a fresh recorder, a fresh header
    desk = browser.new_context(viewport={"width": 1280, "height": 900})
    page = desk.new_page()
    player = page.locator("#focus-audio")
    try:
        sign_in(page, live_server, "olivia")
        page.get_by_role("link", name="Console").click()
        expect(page.get_by_role("heading", name="Nina: location and recording")).to_be_visible()
        page.keyboard.press("p")
        # Take 1 to its end, then take 2.
        expect(player).to_have_attribute("data-take", "2", timeout=15000)
        page.wait_for_function(_playing(0.5))
        expect(page.get_by_text("You have heard everything so far (take 2 of 2)")).to_be_visible(
            timeout=15000)
        # A third take while the operator waits at the end: it plays as it comes.
        send_take(2000)
        expect(player).to_have_attribute("data-take", "3", timeout=15000)
        page.wait_for_function(_playing(0.5))
    finally:
        desk.close()
    reads = AuditEvent.objects.filter(action="alarm.recording.read").order_by("id")
    assert [r.actor.username for r in reads] == ["olivia"] * 3
    assert [re.search(r"take \d of \d", r.summary).group() for r in reads] == [
        "take 1 of 2", "take 2 of 2", "take 3 of 3"]
