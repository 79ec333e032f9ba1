"""MOV-01, PRE-04, PRE-05, PRE-06 in a real browser on a phone: a nurse plans a high-risk
visit, reads its briefing, cannot start it alone, records the colleague who goes with
her, confirms the team's emergency equipment and starts it from the briefing; and during
a visit, "withdrawing now" tells the buddy and, once she has checked out, asks for the
incident report."""

from datetime import date, timedelta

import pytest
from playwright.sync_api import expect

from lonewatch.markers import actions as markers
from lonewatch.notify.models import Delivery
from lonewatch.visits.models import PlannedVisit, Session
from tests.browser import PHONE, screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _phone(browser):
    return browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True,
                               locale="en-GB", timezone_id="Europe/London")


def test_pre_05_nurse_plans_a_high_risk_visit_reads_the_briefing_and_starts_it_with_a_colleague(
        trust, nina_ready, live_server, browser):
    markers.do_add_marker(trust.org, actor=trust.people["leslie"].user,
                          category="violent_patient_indicator",
                          nature="Threatened a nurse with a knife", advice="Visit in pairs",
                          source="IR-2291", review_on=date.today() + timedelta(days=90),
                          nhs_number="9434765919")
    team = nina_ready.team
    team.emergency_equipment = "Charged phone\nPersonal alarm"
    team.save()
    context = _phone(browser)
    page = context.new_page()
    try:
        sign_in(page, live_server, "nina")
        expect(page.get_by_role("heading", name="My day")).to_be_visible()
        expect(page.get_by_role("button", name="Hold for red alert: I need help now")
               ).to_be_visible()
        page.get_by_role("link", name="Plan a visit").click()
        page.get_by_label("Where is the visit?").fill("12 Acacia Avenue, Wisbech")
        page.get_by_label("Postcode").fill("pe13 1ab")
        page.get_by_label("NHS number of the person you visit (optional)").fill("943 476 5919")
        page.get_by_label("Start time").fill("23:59")
        page.get_by_role("button", name="Plan the visit").click()
        expect(page.get_by_text("Visit planned. It is high risk: read the briefing.")
               ).to_be_visible()
        expect(page.get_by_text("High risk visit")).to_be_visible()
        expect(page.get_by_text("Advice: Visit in pairs")).to_be_visible()
        expect(page.get_by_role("button", name="Start this visit")).to_have_count(0)
        # The red alert is one tap away on this page too.
        expect(page.get_by_role("button", name="Hold for red alert")).to_be_visible()
        screenshot(page, "visit-briefing-high-risk")
        page.get_by_label("Who goes with you?").select_option(label="A colleague")
        page.get_by_label("Their name, or the police reference").fill("Ben Carter")
        page.get_by_role("button", name="Save who goes with me").click()
        expect(page.get_by_text("Saved: who goes with you.")).to_be_visible()
        page.get_by_label("Charged phone").check()
        page.get_by_label("Personal alarm").check()
        page.get_by_role("button", name="I have read this and have the equipment").click()
        expect(page.get_by_text("Briefing confirmed.")).to_be_visible()
        assert PlannedVisit.objects.get().briefed_at is not None
        page.get_by_role("button", name="Start this visit").click()
        expect(page.get_by_text("Visit started. Your buddy is watching.")).to_be_visible()
        expect(page.get_by_text("Known risks here")).to_be_visible()
        session = Session.objects.get()
        assert (session.companion_name, session.risk, session.interval_seconds) == (
            "Ben Carter", "high", 15 * 60)
        screenshot(page, "visit-started-with-risks")
    finally:
        context.close()


def test_pre_06_withdrawing_now_tells_the_buddy_and_asks_for_the_incident_report(
        trust, nina_ready, start_session, live_server, browser):
    start_session(interval=3600)
    context = _phone(browser)
    page = context.new_page()
    try:
        sign_in(page, live_server, "nina")
        page.get_by_text("Note a warning sign").click()
        page.get_by_role("button", name="Aggression").click()
        expect(page.get_by_text("Noted, with the time.")).to_be_visible()
        page.get_by_role("button", name="I am withdrawing now").click()
        expect(page.get_by_text("Your buddy has been told you are leaving.")).to_be_visible()
        expect(page.get_by_text("You said you were withdrawing at")).to_be_visible()
        assert Delivery.objects.filter(recipient=trust.people["ben"],
                                       purpose="withdrawing").exists()
        screenshot(page, "withdrawing-now")
        page.get_by_text("I have finished: check out").click()
        page.get_by_label("Your check-out PIN").fill("2468")
        page.get_by_role("button", name="Check out").click()
        expect(page.get_by_text("You withdrew from a visit")).to_be_visible()
        expect(page.get_by_text("report what happened as an incident")).to_be_visible()
    finally:
        context.close()
