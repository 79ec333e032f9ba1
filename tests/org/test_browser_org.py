"""Key journeys in a real browser on a phone-sized screen."""

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from lonewatch.accounts.actions import send_password_emails
from lonewatch.org.models import NextOfKin
from tests.browser import screenshot
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _sign_in(page, live_server, username):
    page.goto(f"{live_server.url}/")
    expect(page).to_have_url(re.compile(r"/login\?next=%2F$"))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_org_02_manager_sees_team_and_cannot_open_another_directorate(trust, live_server,
                                                                       phone):
    page = phone
    _sign_in(page, live_server, "maria")
    expect(page.get_by_role("heading", name="Hello, Maria")).to_be_visible()
    expect(page.get_by_role("heading", name="Your team")).to_be_visible()
    expect(page.get_by_role("link", name="Nina")).to_be_visible()
    screenshot(page, "manager-home")
    page.get_by_role("link", name="Nina").click()
    expect(page.get_by_role("heading", name="Nina", exact=True)).to_be_visible()
    # ORG-03: her mobile only while an escalation about her is open; none is.
    expect(page.get_by_text("+447700900100")).to_have_count(0)
    # Otto works in another directorate: his page does not open, and is not listed.
    page.goto(f"{live_server.url}/people/{trust.people['otto'].pk}/")
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    page.goto(f"{live_server.url}/people/")
    expect(page.get_by_role("link", name="Otto")).to_have_count(0)
    screenshot(page, "manager-people")


def test_org_05_nurse_adds_next_of_kin_and_admin_views_it_audited(trust, live_server,
                                                                  phone):
    page = phone
    _sign_in(page, live_server, "nina")
    page.get_by_role("link", name="Update my details").click()
    page.get_by_text("Add a next of kin").click()
    page.get_by_label("Full name").fill("Piotr Kowalski")
    page.get_by_label("Relationship to you").fill("Husband")
    page.get_by_label("Phone number").fill("07700 900911")
    page.get_by_role("button", name="Add next of kin").click()
    expect(page.get_by_text("Next of kin added.")).to_be_visible()
    assert NextOfKin.objects.get().phone == "+447700900911"
    screenshot(page, "nurse-profile")


def test_org_06_forgotten_password_on_a_phone(trust, live_server, phone, settings):
    """Nina never had a password (HR added her): from the sign-in page to her home page."""
    settings.BASE_URL = "https://lonewatch.example.nhs.uk"
    nina = trust.people["nina"]
    nina.user.email = "nina@trust.example"
    nina.user.set_unusable_password()
    nina.user.save()
    page = phone
    page.goto(f"{live_server.url}/login")
    page.get_by_role("link", name="Forgotten your password, or never had one?").click()
    expect(page.get_by_role("heading", name="Get a link to set your password")).to_be_visible()
    page.get_by_label("Email address").fill("nina@trust.example")
    page.get_by_role("button", name="Send me a link").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    assert send_password_emails() == 1
    [message] = mail.outbox
    link = re.search(r"https://lonewatch\.example\.nhs\.uk(/password/set/\S+)", message.body)
    page.goto(live_server.url + link.group(1))
    expect(page.get_by_role("heading", name="Choose your password")).to_be_visible()
    page.get_by_label("New password", exact=True).fill("kettle-orchard-lantern")
    page.get_by_label("Type the new password again").fill("kettle-orchard-lantern")
    screenshot(page, "set-password")
    page.get_by_role("button", name="Set my password").click()
    expect(page.get_by_role("heading", name="Your password is set")).to_be_visible()
    page.get_by_role("link", name="Sign in").click()
    page.get_by_label("Username").fill("nina")
    page.get_by_label("Password").fill("kettle-orchard-lantern")
    page.get_by_role("button", name="Sign in").click()
    # A lone worker lands on My day (MOV-01).
    expect(page.get_by_role("heading", name="My day")).to_be_visible()
