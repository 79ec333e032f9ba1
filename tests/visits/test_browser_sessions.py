"""MOV-01, MOV-02, ESC-02 in a real browser: a nurse's visit, and a manager handling
a missed check-in."""

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from lonewatch import clock
from lonewatch.escalation import actions as engine
from lonewatch.escalation.models import Escalation
from lonewatch.notify.actions import send_due
from lonewatch.visits.models import Session
from tests.browser import PHONE, screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_mov_01_nurse_plans_starts_checks_in_and_ends_a_visit(trust, nina_ready, live_server,
                                                              browser):
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True,
                                  locale="en-GB", permissions=["geolocation"],
                                  geolocation={"latitude": 52.6661, "longitude": 0.1596,
                                               "accuracy": 15})
    page = context.new_page()
    try:
        sign_in(page, live_server, "nina")
        page.get_by_role("link", name="My day").click()
        page.get_by_label("Where?").fill("12 Acacia Avenue, Wisbech")
        page.get_by_label("Postcode").fill("PE13 1AB")
        page.get_by_label("How long will it take?").select_option(label="1 hour")
        page.get_by_label("How often will you check in?").select_option(label="Every 15 minutes")
        screenshot(page, "nurse-plan")
        page.get_by_role("button", name="Start session").click()
        expect(page.get_by_text("Session started")).to_be_visible()
        expect(page.locator(".lw-countdown")).to_contain_text("Check in within 1")
        session = Session.objects.get()
        assert session.interval_seconds == 900 and session.buddy == trust.people["ben"]
        page.get_by_role("button", name="Check in: I am safe").click()
        expect(page.get_by_text("Checked in. Thank you.")).to_be_visible()
        session.refresh_from_db()
        assert round(session.last_lat, 4) == 52.6661 and session.last_accuracy_m == 15
        screenshot(page, "nurse-session")
        page.get_by_text("I have finished: check out").click()
        page.get_by_label("Your check-out PIN").fill("1111")
        page.get_by_role("button", name="Check out").click()
        expect(page.get_by_text("That PIN is not right.").first).to_be_visible()
        page.get_by_label("Your check-out PIN").fill("2468")
        page.get_by_role("button", name="Check out").click()
        expect(page.get_by_text("You have checked out. Stay safe.")).to_be_visible()
        session.refresh_from_db()
        assert session.state == "ended" and session.last_lat is None
    finally:
        context.close()


def test_esc_02_manager_sees_a_missed_check_in_and_resolves_it(trust, start_session, live_server,
                                                              phone, time_machine):
    session = start_session(interval=600)
    # The deadline passes and the policy reaches the line manager (+15 minutes).
    time_machine.move_to(clock.now() + timedelta(minutes=26), tick=True)
    engine.start_due()
    engine.fire_due()
    send_due()
    page = phone
    sign_in(page, live_server, "maria")
    page.get_by_role("link", name="Board").click()
    expect(page.get_by_role("heading", name="Missed check-ins")).to_be_visible()
    expect(page.get_by_text("Nobody handling yet")).to_be_visible()
    screenshot(page, "manager-board")
    page.get_by_role("link", name="Nina").first.click()
    expect(page.get_by_role("heading", name="Nina missed a check-in")).to_be_visible()
    page.get_by_role("button", name="I am handling this").click()
    expect(page.get_by_text("Others have been told you are handling this.")).to_be_visible()
    page.get_by_label("Worker safe").check()
    page.get_by_label("What did you do? (optional)").fill("Phoned Nina: her phone had died.")
    page.get_by_role("button", name="Save and close").click()
    expect(page.get_by_text("Recorded. Thank you.")).to_be_visible()
    expect(page.get_by_text("Resolved by Maria").first).to_be_visible()
    screenshot(page, "manager-escalation")
    escalation = Escalation.objects.get()
    assert escalation.outcome == "worker_safe" and escalation.resolved_by == trust.people[
        "maria"].user
    session.refresh_from_db()
    assert session.state == "active"
