"""Debian's chromium, driven by Playwright (never a downloaded browser)."""

import os
import re
import shutil
import time
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("LONEWATCH_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="session")
def browser():
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        pytest.fail(f"chromium is not installed at {CHROMIUM}: run `make setup`")
    # Playwright's sync API runs an event loop in this thread; Django's ORM in the
    # test itself is still synchronous and safe here.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def media_browser(browser):
    """A second chromium, from the same Playwright, with a fake microphone (a beeping test
    signal) and the prompts answered yes, as a phone whose worker allowed the microphone."""
    fake = browser.browser_type.launch(executable_path=CHROMIUM, args=FLAGS + [
        "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"])
    yield fake
    fake.close()


def worker_phone(browser, *, geolocation=None, permissions=("microphone", "geolocation")):
    """A phone-sized context (and its page) for a worker, where they are."""
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True,
                                  has_touch=True, locale="en-GB", geolocation=geolocation,
                                  permissions=list(permissions))
    return context, context.new_page()


def until(check, timeout=20.0, message="never happened"):
    """Poll the database while the browser works (the page keeps running meanwhile)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if check():
            return
        time.sleep(0.25)
    raise AssertionError(message)


@pytest.fixture
def phone(browser):
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True,
                                  has_touch=True, locale="en-GB")
    page = context.new_page()
    yield page
    context.close()


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


# Where a person lands after signing in: My day for a lone worker (the plan, or a running
# session's "Check in …"), the home page for everyone else.
LANDED = re.compile("^(Hello|My day|Check in)")


def sign_in(page, live_server, username):
    """Sign in through the form, as a person does, and wait for the home page."""

    from playwright.sync_api import expect

    from tests.conftest import PASSWORD

    page.goto(f"{live_server.url}/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name=LANDED)).to_be_visible()


def sign_in_with_code(page, live_server, person):
    """A privileged user (an operator, the security manager): password, then the code
    from their authenticator app."""

    from django_otp.oath import totp
    from django_otp.plugins.otp_totp.models import TOTPDevice
    from playwright.sync_api import expect

    from tests.conftest import PASSWORD

    device = TOTPDevice.objects.create(user=person.user, name="phone", confirmed=True)
    page.goto(f"{live_server.url}/login")
    page.get_by_label("Username").fill(person.user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Enter your code")).to_be_visible()
    code = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits)
    page.get_by_label("6-digit code").fill(f"{code:06d}")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name=LANDED)).to_be_visible()
