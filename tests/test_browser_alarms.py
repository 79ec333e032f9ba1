"""ALM-02, ALM-03 in a real browser: a worker holds the red alert; an operator
acknowledges, escalates and closes it on the console, locates the worker on the map
and listens to the recording while it grows."""

import base64
import re

import pytest
from django.test import Client
from playwright.sync_api import expect

from lonewatch.accounts.actions import do_create_token
from lonewatch.alarms import actions
from lonewatch.alarms.models import Alarm
from lonewatch.core.models import AuditEvent
from tests.browser import PHONE, screenshot
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _sign_in(page, live_server, username):
    page.goto(f"{live_server.url}/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name=re.compile("Hello"))).to_be_visible()


def test_alm_02_worker_holds_red_alert_and_operator_handles_it(trust, nina_ready, live_server,
                                                               browser, settings):
    settings.REQUIRE_TWO_FACTOR = False  # the second factor has its own tests
    olivia = trust.people["olivia"]
    actions.do_duty(olivia, on=True, actor=olivia.user)
    worker = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                 has_touch=True)
    page = worker.new_page()
    try:
        _sign_in(page, live_server, "nina")
        page.get_by_role("link", name="My day").click()
        button = page.get_by_role("button", name=re.compile("Hold for red alert"))
        button.hover()
        page.mouse.down()
        page.wait_for_timeout(300)
        page.mouse.up()  # a short press sends nothing
        assert not Alarm.objects.exists()
        button.hover()
        page.mouse.down()
        expect(page.get_by_text("Red alert sent.")).to_be_visible(timeout=10000)
        page.mouse.up()
        screenshot(page, "worker-red-alert")
    finally:
        worker.close()
    alarm = Alarm.objects.get()
    assert (alarm.kind, alarm.state) == ("red", "raised")
    desk = browser.new_context(viewport={"width": 1200, "height": 900})
    page = desk.new_page()
    try:
        _sign_in(page, live_server, "olivia")
        page.get_by_role("link", name="Console").click()
        expect(page.get_by_role("heading", name="Red alerts waiting (1)")).to_be_visible()
        # The page is live once the waiting alarm is shown beside the list.
        expect(page.get_by_role("heading", name="Nina: location and recording")).to_be_visible()
        page.keyboard.press("a")  # keyboard-driven: acknowledge the oldest red alert
        expect(page.get_by_text(re.compile("Done: acknowledge"))).to_be_visible()
        page.get_by_role("button", name="Listening and locating").click()
        page.locator("summary", has_text="Escalate").click()
        page.get_by_label("Incident reference (999 calls)").fill("CAD-4411")
        page.get_by_role("button", name="Escalate", exact=True).click()
        expect(page.get_by_text("Reference CAD-4411.")).to_be_visible()
        page.locator("summary", has_text="Close").click()
        page.get_by_label("What was it?").select_option("genuine_closed_safely")
        page.get_by_role("button", name="Close alarm").click()
        expect(page.get_by_text(re.compile("Done: close"))).to_be_visible()
        screenshot(page, "operator-console")
    finally:
        desk.close()
    alarm.refresh_from_db()
    assert (alarm.state, alarm.category, alarm.emergency_reference) == (
        "closed", "genuine_closed_safely", "CAD-4411")
    assert [e.kind for e in alarm.events.all()] == ["raised", "acknowledged", "assessing",
                                                    "escalated", "closed"]


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
        _sign_in(page, live_server, "olivia")
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
