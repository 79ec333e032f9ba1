"""Accessibility: every key page passes axe-core's WCAG 2.2 A and AA checks on a phone,
and the console and the board on a desk too. STYLE.md: "Pages must pass automated
accessibility checks (axe-core) and work on a phone." (REQUIREMENTS.md has no
accessibility ID yet; the tests are named Q-A11Y, beside Q-PERF, Q-REL and Q-SEC.)

Each page (and each page with its form's errors showing) is its own test, so a failure
names the page; its message lists each rule broken, with the elements that break it
and axe's advice. Serious and critical problems fail; moderate and minor ones are axe's
best practice rather than barriers, and are left to review.

Folded-away content (NHS.UK details) is opened first, so the forms inside it are
checked too. Beside axe, two checks of our own, which always fail the test:

- every id that a label, an ARIA attribute or an error summary's link points at exists
  exactly once. axe only asks a person to review a duplicated id, but a duplicate gives
  a field another field's label or hint, and sends the error summary's link elsewhere;
- a page showing the error summary has a title starting "Error: " (the NHS.UK error
  summary pattern), so a screen reader hears that the form came back at once;
- each cell of an NHS.UK responsive table carries its column's heading: on a phone the
  table's own heading row is hidden, so a cell without one is a bare number.

One Playwright browser for the run and one context per screen size for the module;
each test swaps the session cookie rather than signing in through the form (sign-in
and the second factor are pages here too, and have their own tests).
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.hashers import make_password
from django.test import Client
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from lonewatch import clock
from lonewatch.accounts.actions import do_create_token, do_open_enrolment
from lonewatch.accounts.tokens import reset_tokens
from lonewatch.alarms import actions as alarms
from lonewatch.escalation import actions as engine
from lonewatch.notify.actions import send_due
from lonewatch.visits.actions import do_start_session
from lonewatch.visits.models import Session
from tests.browser import PHONE
from tests.conftest import PASSWORD, login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
DESK = {"width": 1280, "height": 900}
# WCAG 2.0, 2.1 and 2.2, levels A and AA: the level the NHS service standard asks for.
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
BLOCKING = {"serious", "critical"}


def _submit(button: str, **fields: str) -> Callable:
    """Fill in some fields (by label) and press a button: the page comes back with its
    error summary."""

    def act(page):
        for label, value in fields.items():
            page.get_by_label(label, exact=True).fill(value)
        page.get_by_role("button", name=button, exact=True).click()
        page.locator(".nhsuk-error-summary").first.wait_for()

    return act


def _policy_step_out_of_order(page):
    page.get_by_label("Minutes after the deadline").nth(1).fill("20")
    _submit("Save the trust default")(page)


@dataclass(frozen=True)
class KeyPage:
    who: str | None  # a username from the trust fixture; ":unverified" skips the 2nd factor
    path: Callable[[dict], str]  # from the scene, so ids of rows can go into it
    desk: bool = False
    then: Callable | None = None  # what to do on the page before it is checked


PAGES = {
    "sign_in": KeyPage(None, lambda s: "/login"),
    "sign_in_error": KeyPage(None, lambda s: "/login", then=_submit(
        "Sign in", Username="nina", Password=PASSWORD + "-wrong")),
    "password_reset": KeyPage(None, lambda s: "/password/reset"),
    "password_reset_error": KeyPage(None, lambda s: "/password/reset",
                                    then=_submit("Send me a link")),
    "password_reset_sent": KeyPage(None, lambda s: "/password/reset/sent"),
    "password_set": KeyPage(None, lambda s: s["password_link"]),
    "password_set_error": KeyPage(None, lambda s: s["password_link"], then=_submit(
        "Set my password", **{"New password": "short"})),
    "password_link_not_working": KeyPage(None, lambda s: "/password/set/MQ/abc-123"),
    "password_set_done": KeyPage(None, lambda s: "/password/done"),
    "two_factor": KeyPage("olivia:unverified", lambda s: "/account/two-factor"),
    "two_factor_error": KeyPage("olivia:unverified", lambda s: "/account/two-factor",
                                then=_submit("Continue")),
    "two_factor_link_sent": KeyPage("leslie:unverified", lambda s: "/account/two-factor"),
    "two_factor_no_email": KeyPage("adam:unverified", lambda s: "/account/two-factor"),
    "two_factor_link_refused": KeyPage("leslie:unverified",
                                       lambda s: "/account/two-factor/enrol/not-a-link"),
    "home": KeyPage("maria", lambda s: "/"),
    "home_worker": KeyPage("nina", lambda s: "/"),
    "my_day": KeyPage("sol", lambda s: "/my-day/"),
    "my_day_error": KeyPage("sol", lambda s: "/my-day/", then=_submit("Start session")),
    "my_day_session": KeyPage("nina", lambda s: "/my-day/"),
    "my_day_red_alert": KeyPage("ben", lambda s: "/my-day/"),
    "buddy": KeyPage("ben", lambda s: "/buddy/"),
    "board": KeyPage("maria", lambda s: "/board/"),
    "board_desk": KeyPage("maria", lambda s: "/board/", desk=True),
    "session": KeyPage("maria", lambda s: f"/sessions/{s['session'].pk}/"),
    "escalation": KeyPage("maria", lambda s: f"/escalations/{s['escalation'].pk}/"),
    "escalation_error": KeyPage("maria", lambda s: f"/escalations/{s['escalation'].pk}/",
                                then=_submit("Save and close")),
    "locate": KeyPage("maria", lambda s: f"/sessions/{s['session'].pk}/locate"),
    "people": KeyPage("maria", lambda s: "/people/"),
    "person": KeyPage("maria", lambda s: f"/people/{s['nina'].pk}/"),
    "person_occupational_health": KeyPage("helen", lambda s: f"/people/{s['nina'].pk}/"),
    "person_administrator": KeyPage("adam", lambda s: f"/people/{s['people']['olivia'].pk}/"),
    "teams": KeyPage("leslie", lambda s: "/teams/"),
    "team": KeyPage("maria", lambda s: f"/teams/{s['north'].pk}/"),
    "team_policy": KeyPage("maria", lambda s: f"/teams/{s['north'].pk}/escalation-policy"),
    "default_policy": KeyPage("leslie", lambda s: "/escalation-policy"),
    "default_policy_error": KeyPage("leslie", lambda s: "/escalation-policy",
                                    then=_policy_step_out_of_order),
    "profile": KeyPage("nina", lambda s: "/profile/"),
    "profile_error": KeyPage("nina", lambda s: "/profile/", then=_submit("Create a token")),
    "profile_privileged": KeyPage("olivia", lambda s: "/profile/"),
    "audit": KeyPage("leslie", lambda s: "/audit/"),
    "console": KeyPage("olivia", lambda s: "/console/"),
    "console_desk": KeyPage("olivia", lambda s: "/console/", desk=True),
    "alarm_report": KeyPage("olivia", lambda s: "/reports/alarms"),
    "not_found": KeyPage("nina", lambda s: "/people/999999/"),
}

def _param(name):
    return pytest.param(name, id=name)


@pytest.fixture(scope="module")
def screens(browser):
    """One phone and one desk context for the module, reused by every test."""
    if not AXE.exists():
        pytest.fail(f"axe-core is not installed at {AXE}: run `make setup` (npm ci)")
    phone = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True,
                                has_touch=True, locale="en-GB", timezone_id="Europe/London")
    desk = browser.new_context(viewport=DESK, locale="en-GB", timezone_id="Europe/London")
    yield {"phone": phone, "desk": desk}
    phone.close()
    desk.close()


@pytest.fixture
def scene(trust, settings):
    """A morning in the North team: Nina missed a check-in and her manager has been
    paged; Nina logged an amber alert; Ben's red alert waits on the console and Otto's is
    being handled; Sol is ready to start a visit."""
    settings.MAP_TILE_URL = ""  # nothing fetched from outside the test
    people = trust.people
    now = clock.now()
    for name, buddy in (("nina", "ben"), ("sol", "ben"), ("ben", "nina"), ("otto", "nina")):
        person = people[name]
        person.buddy, person.buddy_accepted_at = people[buddy], now
        person.pin_hash, person.location_consent_at = make_password("2468"), now
        person.save()
    nina, ben, otto, olivia = people["nina"], people["ben"], people["otto"], people["olivia"]
    session = do_start_session(
        nina, actor=nina.user, kind="visit", address="12 Acacia Avenue, Wisbech",
        postcode="PE13 1AB", planned_start=now, planned_end=now + timedelta(hours=2),
        buddy=ben, interval_seconds=600, lat=52.6661, lon=0.1596, accuracy_m=15)
    # The deadline passed 26 minutes ago: Nina, then her buddy and manager were told.
    Session.objects.filter(pk=session.pk).update(due_at=now - timedelta(minutes=26))
    engine.start_due()
    engine.fire_due()
    send_due()
    alarms.do_raise(nina, actor=nina.user, kind="amber", message="Dog in the garden",
                    lat=52.6661, lon=0.1596, accuracy_m=15)
    alarms.do_duty(olivia, on=True, actor=olivia.user)
    alarms.do_raise(ben, actor=ben.user, kind="red", lat=52.6641, lon=0.1596, accuracy_m=35)
    handled = alarms.do_raise(otto, actor=otto.user, kind="red")
    alarms.do_acknowledge(handled, actor=olivia.user, note="Calling Otto")
    # ORG-06: Olivia's enrolment was opened by the administrator; Leslie is sent a link.
    do_open_enrolment(olivia.user, actor=people["adam"].user)
    people["leslie"].user.email = "leslie@trust.example"
    people["leslie"].user.save()
    do_create_token(olivia.user, name="Console", actor=olivia.user, privileged=True)
    uid = urlsafe_base64_encode(force_bytes(nina.user.pk))
    return {"people": people, "nina": nina, "north": trust.north, "session": session,
            "escalation": session.escalations.get(),
            "password_link": f"/password/set/{uid}/{reset_tokens.make_token(nina.user)}"}


def _session_cookie(person, *, verified: bool, url: str) -> dict:
    client = login(Client(), person, verified=verified)
    name = django_settings.SESSION_COOKIE_NAME
    return {"name": name, "value": client.cookies[name].value, "url": url}


# Every id that something points at and is not there exactly once.
REFERENCED_IDS = """() => {
  const problems = [];
  const check = (element, id, how) => {
    const count = id ? document.querySelectorAll(`[id="${CSS.escape(id)}"]`).length : 0;
    if (count !== 1) problems.push({id, how, count, html: element.outerHTML.slice(0, 160)});
  };
  for (const label of document.querySelectorAll('label[for]')) {
    check(label, label.htmlFor, 'label for');
  }
  for (const attr of ['aria-describedby', 'aria-labelledby', 'aria-controls']) {
    for (const element of document.querySelectorAll(`[${attr}]`)) {
      for (const id of element.getAttribute(attr).split(/\\s+/).filter(Boolean)) {
        check(element, id, attr);
      }
    }
  }
  for (const link of document.querySelectorAll('.nhsuk-error-summary a[href^="#"]')) {
    check(link, decodeURIComponent(link.getAttribute('href').slice(1)), 'error summary link');
  }
  return problems;
}"""


# Cells of a responsive table that lose their column heading on a phone (a cell that
# spans the table, like "Nothing recorded yet.", needs none).
HEADLESS_CELLS = """() => [...document.querySelectorAll('table.nhsuk-table-responsive td')]
  .filter(cell => !cell.hasAttribute('colspan')
                  && !cell.querySelector('.nhsuk-table-responsive__heading'))
  .map(cell => {
    const table = cell.closest('table');
    const caption = table.caption ? table.caption.textContent.trim() : '(no caption)';
    const heading = table.tHead && table.tHead.rows[0].cells[cell.cellIndex];
    return `"${caption}" column "${heading ? heading.textContent.trim() : cell.cellIndex}"`;
  })"""


def _check(page) -> list[dict]:
    """What is wrong on the page, in axe's shape."""
    page.evaluate("document.querySelectorAll('details').forEach(d => { d.open = true; })")
    page.add_script_tag(path=str(AXE))
    violations = page.evaluate(
        """tags => axe.run(document, {runOnly: {type: 'tag', values: tags},
                                       resultTypes: ['violations']})
                   .then(result => result.violations)""", WCAG_TAGS)
    violations = [v for v in violations if v["impact"] in BLOCKING]
    if ids := page.evaluate(REFERENCED_IDS):
        violations.append({
            "id": "referenced-id-unique", "impact": "serious",
            "help": "An id that a label, an ARIA attribute or an error summary link points "
                    "at must exist exactly once (WCAG 1.3.1, 4.1.2)",
            "helpUrl": "https://www.w3.org/WAI/WCAG22/Understanding/info-and-relationships",
            "nodes": [{"target": [f"{p['how']} → #{p['id']} ({p['count']} found)"],
                       "failureSummary": p["html"]} for p in ids]})
    if cells := list(dict.fromkeys(page.evaluate(HEADLESS_CELLS))):
        violations.append({
            "id": "responsive-table-headings", "impact": "serious",
            "help": "Each cell of an nhsuk-table-responsive starts with <span "
                    'class="nhsuk-table-responsive__heading" aria-hidden="true">, its '
                    "column heading, shown on a phone instead of the heading row (WCAG 1.3.1)",
            "helpUrl": "https://service-manual.nhs.uk/design-system/components/table",
            "nodes": [{"target": [cell], "failureSummary": "no column heading in the cell"}
                      for cell in cells]})
    title = page.title()
    if page.locator("[data-module=nhsuk-error-summary]").count() and not title.startswith(
            "Error: "):
        violations.append({
            "id": "error-summary-title", "impact": "serious",
            "help": 'A page showing the error summary starts its title with "Error: "',
            "helpUrl": "https://service-manual.nhs.uk/design-system/components/error-summary",
            "nodes": [{"target": ["title"], "failureSummary": title}]})
    return violations


def _describe(violations: list[dict]) -> str:
    lines = []
    for v in violations:
        lines.append(f"[{v['impact']}] {v['id']}: {v['help']} ({v['helpUrl']})")
        for node in v["nodes"]:
            summary = " ".join((node.get("failureSummary") or "").split())
            lines.append(f"    at {' '.join(map(str, node['target']))}: {summary[:300]}")
    return "\n".join(lines)


@pytest.mark.parametrize("name", [_param(name) for name in PAGES])
def test_q_a11y(name, scene, screens, live_server):
    spec = PAGES[name]
    context = screens["desk" if spec.desk else "phone"]
    context.clear_cookies()
    if spec.who:
        username, _, state = spec.who.partition(":")
        context.add_cookies([_session_cookie(scene["people"][username],
                                             verified=state != "unverified",
                                             url=live_server.url)])
    path = spec.path(scene)
    page = context.new_page()
    try:
        page.goto(live_server.url + path)
        if spec.then:
            spec.then(page)
        # What the page's own scripts draw once loaded (countdowns, the console's list
        # and map) is checked too.
        page.wait_for_load_state("load")
        page.wait_for_timeout(300)
        violations = _check(page)
    finally:
        page.close()  # ends the page's event streams before the database is emptied
    assert not violations, (f"{name} ({path}): {len(violations)} serious or critical "
                            f"accessibility problems\n{_describe(violations)}")


def test_q_a11y_countdown_is_announced_at_moments_not_every_second(start_session, screens,
                                                                    live_server):
    """The countdown on My day changes every second, so it is not a live region; a
    screen reader hears 5 minutes left, 1 minute left and overdue, once each."""
    session = start_session(interval=600)
    Session.objects.filter(pk=session.pk).update(due_at=clock.now() + timedelta(seconds=310))
    context = screens["phone"]
    context.clear_cookies()
    context.add_cookies([_session_cookie(session.worker, verified=False, url=live_server.url)])
    page = context.new_page()
    try:
        page.clock.install()
        page.goto(f"{live_server.url}/my-day/")
        countdown, status = page.locator(".lw-countdown"), page.locator("#countdown-status")
        assert countdown.get_attribute("aria-live") is None
        assert status.get_attribute("role") == "status" and status.text_content() == ""
        page.clock.run_for(5_000)
        assert status.text_content() == ""  # the seconds ticking are not read out
        page.clock.run_for(10_000)
        assert status.text_content() == "5 minutes left to check in."
        page.clock.run_for(240_000)
        assert status.text_content() == "1 minute left to check in."
        page.clock.run_for(70_000)
        assert status.text_content() == "Your check-in is overdue. Check in now if you are safe."
        assert "Check-in overdue by" in countdown.text_content()
    finally:
        page.close()
