"""ESC-01 in a real browser on a phone: the trust default escalation policy, and a team
going back to it."""

import re

import pytest
from playwright.sync_api import expect

from lonewatch.escalation.policy import do_set_policy, steps_for
from tests.browser import screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_esc_01_security_manager_changes_the_trust_default_on_a_phone(trust, live_server,
                                                                      phone, settings):
    settings.REQUIRE_TWO_FACTOR = False  # the second factor has its own tests
    do_set_policy(trust.north, [{"after_seconds": 0, "notify": "buddy", "channels": ["sms"]}],
                  actor=trust.people["maria"].user)
    page = phone
    sign_in(page, live_server, "leslie")
    page.goto(f"{live_server.url}/teams/")
    page.get_by_role("link", name="Trust default escalation policy").click()
    expect(page.get_by_role("heading", name="Trust default escalation policy",
                            level=1)).to_be_visible()
    expect(page.get_by_role("link", name="North")).to_be_visible()
    screenshot(page, "trust-default-policy")
    page.get_by_label("Minutes after the deadline").nth(1).fill("20")
    page.get_by_role("button", name="Save the trust default").click()
    expect(page.get_by_text("There is a problem")).to_be_visible()
    expect(page.get_by_role("link", name=re.compile("Step 3 is earlier than the step above it"))
           ).to_be_visible()
    screenshot(page, "trust-default-policy-error")
    page.get_by_label("Minutes after the deadline").nth(1).fill("10")
    page.get_by_role("button", name="Save the trust default").click()
    expect(page.get_by_text(re.compile("^Saved."))).to_be_visible()
    assert [s.after_seconds for s in steps_for(trust.south)][:2] == [0, 600]


def test_esc_01_manager_sends_the_team_back_to_the_trust_default_on_a_phone(
        trust, live_server, phone):
    do_set_policy(trust.north, [{"after_seconds": 0, "notify": "buddy", "channels": ["sms"]}],
                  actor=trust.people["maria"].user)
    page = phone
    sign_in(page, live_server, "maria")
    page.goto(f"{live_server.url}/teams/{trust.north.pk}/")
    page.get_by_role("link", name="What happens when someone in North misses a check-in"
                     ).click()
    expect(page.get_by_text("North has its own steps.")).to_be_visible()
    screenshot(page, "team-policy-own-steps")
    page.get_by_role("button", name="Follow the trust default instead").click()
    expect(page.get_by_text("North now follows the trust default escalation policy."
                            )).to_be_visible()
    expect(page.get_by_role("button", name="Follow the trust default instead")
           ).to_have_count(0)
    screenshot(page, "team-policy-follows-default")
    page.get_by_role("link", name="trust default escalation policy").first.click()
    expect(page.get_by_role("heading", name="Trust default escalation policy",
                            level=1)).to_be_visible()
    expect(page.get_by_role("button", name="Save the trust default")).to_have_count(0)
