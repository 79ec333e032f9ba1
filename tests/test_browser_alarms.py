"""ALM-02, ALM-03 in a real browser: a worker holds the red alert; an operator
acknowledges, escalates and closes it on the console."""

import re

import pytest
from playwright.sync_api import expect

from lonewatch.alarms import actions
from lonewatch.alarms.models import Alarm
from tests.browser import screenshot
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
