"""RSK-01 in a real browser: a team manager lists the team's lone-working activities,
their risks and who does them, and submits them; the directorate lead returns the list
with a comment, the manager submits it again, and the lead accepts it."""

import pytest
from playwright.sync_api import expect

from lonewatch.governance.models import Submission
from tests.browser import screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_rsk_01_team_manager_submits_activities_and_the_directorate_lead_accepts_them(
        trust, live_server, browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    page = context.new_page()
    try:
        sign_in(page, live_server, "maria")
        page.goto(f"{live_server.url}/teams/{trust.north.pk}/")
        page.get_by_role("link", name="What North does alone").click()
        page.get_by_label("What is the activity?").fill("First home visit to a new referral")
        page.get_by_label("Where does it happen?").fill("Patients' homes, Wisbech")
        page.get_by_label("When does it happen?").fill("Weekdays, 08:00 to 18:00")
        page.get_by_label("Nina").check()
        page.get_by_label("Ben").check()
        page.get_by_label("Risk 1: type").select_option(label="Physical assault")
        page.get_by_label("Risk 1: what could go wrong").fill("Nothing known of the patient")
        page.get_by_label("Risk 2: type").select_option(label="Animals")
        page.get_by_label("Risk 2: what could go wrong").fill("Dogs not shut away")
        page.get_by_role("button", name="Add the activity").click()
        expect(page.get_by_text("Activity added.")).to_be_visible()
        expect(page.get_by_text("Nina, Ben").or_(page.get_by_text("Ben, Nina"))).to_be_visible()
        page.get_by_role("button", name="Submit to the directorate").click()
        expect(page.get_by_text("Submitted to the directorate.")).to_be_visible()
        screenshot(page, "activities-submitted")
        context.clear_cookies()
        sign_in(page, live_server, "claire")
        page.goto(f"{live_server.url}/teams/{trust.north.pk}/activities/")
        page.get_by_label("Comments (needed to return the list)").fill(
            "Add the evening clinic, please")
        page.get_by_role("button", name="Return with comments").click()
        expect(page.get_by_text("Returned to the team with your comments.")).to_be_visible()
        context.clear_cookies()
        sign_in(page, live_server, "maria")
        page.goto(f"{live_server.url}/teams/{trust.north.pk}/activities/")
        expect(page.get_by_text("Add the evening clinic, please")).to_be_visible()
        page.get_by_label("What is the activity?").fill("Evening clinic alone")
        page.get_by_label("Risk 1: type").select_option(label="Verbal abuse, threats or harassment")
        page.get_by_label("Risk 1: what could go wrong").fill("Walk-ins after hours")
        page.get_by_role("button", name="Add the activity").click()
        page.get_by_role("button", name="Submit to the directorate").click()
        context.clear_cookies()
        sign_in(page, live_server, "claire")
        page.goto(f"{live_server.url}/teams/{trust.north.pk}/activities/")
        page.get_by_role("button", name="Accept").click()
        expect(page.get_by_text("Accepted.", exact=True)).to_be_visible()
        submission = Submission.objects.get()
        assert submission.state == "accepted" and submission.activities.count() == 2
        screenshot(page, "activities-accepted")
    finally:
        context.close()
