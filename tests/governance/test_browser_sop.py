"""RSK-04 in a real browser on a phone: a lone worker opens her team's SOP from the menu
and reads the approved version: its controls, the team's own arrangements and, read
live, her buddy."""

import pytest
from playwright.sync_api import expect

from lonewatch.governance import actions
from tests.browser import PHONE, screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_rsk_04_a_lone_worker_reads_her_teams_approved_sop_on_her_phone(
        trust, nina_ready, live_server, browser):
    maria, claire, leslie = (trust.people[n].user for n in ("maria", "claire", "leslie"))
    theme = actions.do_save_theme(trust.org, actor=leslie, title="Assault on a home visit",
                                  risk_type="physical_assault")
    actions.do_save_control(trust.org, actor=leslie, title="Joint visits for unknown "
                            "patients", themes=[theme])
    sop = actions.do_start_sop(trust.north, actor=maria)
    actions.do_edit_sop(sop, actor=maria, themes=[theme],
                     local_arrangements="Keys are in the team office safe.")
    actions.do_submit_sop(sop, actor=maria)
    actions.do_approve_sop(sop, actor=claire, approve=True)
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True,
                                  locale="en-GB")
    page = context.new_page()
    try:
        sign_in(page, live_server, "nina")
        page.goto(f"{live_server.url}/sop/")
        expect(page.get_by_text("Joint visits for unknown patients")).to_be_visible()
        expect(page.get_by_text("Keys are in the team office safe.")).to_be_visible()
        expect(page.get_by_text("Nina: buddy Ben").first).to_be_visible()
        expect(page.get_by_role("button", name="Hold for red alert")).to_be_visible()
        screenshot(page, "sop-on-a-phone")
    finally:
        context.close()
