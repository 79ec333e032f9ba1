"""RSK-05 in a real browser: a directorate lead opens the dashboard, which opens on her
directorate, reads each figure's colour in words, drills down to a team and its people,
and downloads the CSV for the committee papers."""

import pytest
from playwright.sync_api import expect

from lonewatch.governance import actions
from tests.browser import screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_rsk_05_a_directorate_lead_drills_down_from_her_directorate_to_a_team(
        trust, live_server, browser):
    maria, claire = trust.people["maria"], trust.people["claire"]
    draft = actions.draft_of(trust.north, actor=maria.user)
    actions.do_add_activity(draft, actor=maria.user, title="Home visits",
                            people=[trust.people["nina"]],
                            risks=[{"risk_type": "physical_assault", "description": "x"}])
    actions.do_submit(draft, actor=maria.user)
    actions.do_review(draft, actor=claire.user, accept=True)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB",
                                  accept_downloads=True)
    page = context.new_page()
    try:
        sign_in(page, live_server, "claire")
        page.get_by_role("link", name="Dashboard").click()
        expect(page.get_by_role("heading", name="Community")).to_be_visible()
        region = page.get_by_role("region", name="Activities, SOPs and reviews: scroll "
                                                 "sideways for every column")
        expect(region.get_by_role("link", name="North")).to_be_visible()
        expect(region.get_by_text("Green").first).to_be_visible()
        live = page.get_by_role("region", name="Live safety: scroll sideways for every column")
        expect(live.get_by_role("columnheader", name="Red alerts")).to_be_visible()
        screenshot(page, "dashboard-directorate")
        with page.expect_download() as download:
            page.get_by_role("link", name="Download CSV").click()
        assert download.value.suggested_filename.endswith(".csv")
        region.get_by_role("link", name="North").click()
        expect(page.get_by_role("heading", name="North")).to_be_visible()
        expect(page.get_by_role("row", name="Nina").first).to_be_visible()
    finally:
        context.close()
