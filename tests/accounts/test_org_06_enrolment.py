"""ORG-06, Q-SEC: a privileged account's first authenticator app is not set up on the
strength of its password alone.

After the password, the page sends a one-time link to the account's email address
(signed, time-limited, for the browser that opens it), or the person waits for an
administrator to open enrolment for them (from their page or the command line). Both
are written to the audit trail.
"""

import re

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from lonewatch.core.models import AuditEvent
from tests.conftest import PASSWORD, login

QR = "QR code for your authenticator app"


def _code(device):
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


def signed_in(username: str, password: str = PASSWORD) -> Client:
    client = Client()
    response = client.post("/login", {"username": username, "password": password})
    assert response.status_code == 302
    return client


def link_in(message) -> str:
    """The path of the enrolment link in an email."""
    return re.search(r"https?://[^/\s]+(/account/two-factor/enrol/\S+)", message.body).group(1)


def enrol(client: Client, username: str) -> TOTPDevice:
    page = client.get("/account/two-factor").content.decode()
    assert QR in page
    device = TOTPDevice.objects.get(user__username=username, confirmed=False)
    response = client.post("/account/two-factor", {"code": _code(device)})
    assert response.status_code == 302
    device.refresh_from_db()
    assert device.confirmed
    return device


@pytest.fixture
def olivia(trust):
    """The alarm-centre operator, with an email address and no authenticator app yet."""
    person = trust.people["olivia"]
    person.user.email = "olivia.operator@trust.example"
    person.user.save()
    return person


def test_org_06_password_alone_does_not_enrol_a_privileged_account(olivia, mailoutbox):
    client = signed_in("olivia")
    assert client.get("/people/")["Location"] == "/account/two-factor"
    page = client.get("/account/two-factor").content.decode()
    assert QR not in page
    assert "We have emailed a link to <strong>o•••@trust.example</strong>" in page
    assert "Or ask an administrator" in page
    assert not TOTPDevice.objects.filter(user=olivia.user).exists()
    # A code (from an app set up some other way) gets nowhere, and nothing is enrolled.
    client.post("/account/two-factor", {"code": "123456"})
    assert client.get("/people/").status_code == 302
    assert not TOTPDevice.objects.filter(user=olivia.user).exists()
    # One email, sent once however often the page is loaded.
    client.get("/account/two-factor")
    assert [m.to for m in mailoutbox] == [["olivia.operator@trust.example"]]
    assert "olivia" in mailoutbox[0].body and "If it was not you" in mailoutbox[0].body
    sent = AuditEvent.objects.get(action="two_factor.enrolment_link")
    assert sent.actor == olivia.user and "o•••@trust.example" in sent.summary
    assert not AuditEvent.objects.filter(action="two_factor.enrol").exists()


def test_org_06_the_emailed_link_enrols_the_browser_that_opens_it_once(olivia, mailoutbox):
    client = signed_in("olivia")
    client.get("/account/two-factor")
    link = link_in(mailoutbox[0])
    # Someone else who has the password signs in too.
    intruder = signed_in("olivia")
    opened = client.get(link)
    assert opened.status_code == 302 and opened["Location"] == "/account/two-factor"
    assert QR not in intruder.get("/account/two-factor").content.decode()
    used = intruder.get(link)
    assert used.status_code == 400 and "already been used" in used.content.decode()
    enrol(client, "olivia")
    assert client.get("/people/").status_code == 200
    enrolled = AuditEvent.objects.get(action="two_factor.enrol")
    assert enrolled.changes["after"]["via"] == "email"
    assert QR not in intruder.get("/account/two-factor").content.decode()


def test_org_06_a_link_opened_signed_out_asks_for_the_password_first(olivia, mailoutbox):
    signed_in("olivia").get("/account/two-factor")
    link = link_in(mailoutbox[0])
    phone = Client()  # the email is opened on another device, not signed in
    asked = phone.get(link)
    assert asked.status_code == 302 and asked["Location"].startswith("/login?next=")
    back = phone.post(asked["Location"], {"username": "olivia", "password": PASSWORD})
    assert back["Location"] == link
    assert phone.get(link)["Location"] == "/account/two-factor"
    enrol(phone, "olivia")


def test_org_06_the_link_is_signed_time_limited_and_for_its_owner_only(
        olivia, trust, mailoutbox, time_machine, settings):
    settings.ENROLMENT_LINK_MINUTES = 30
    time_machine.move_to("2026-11-23 09:00:00+00:00", tick=False)
    client = signed_in("olivia")
    client.get("/account/two-factor")
    link = link_in(mailoutbox[0])
    # Another privileged account cannot use it, nor a changed link.
    other = signed_in("leslie")
    refused = other.get(link)
    assert refused.status_code == 400 and "sent to someone else" in refused.content.decode()
    forged = client.get(link[:-3] + ("abc" if not link.endswith("abc") else "xyz"))
    assert forged.status_code == 400 and "not right" in forged.content.decode()
    # Too late.
    time_machine.move_to("2026-11-23 09:31:00+00:00", tick=False)
    late = client.get(link)
    assert late.status_code == 400 and "expired" in late.content.decode()
    assert QR not in client.get("/account/two-factor").content.decode()


def test_org_06_only_the_newest_link_works_and_links_are_not_sent_in_a_flood(
        olivia, mailoutbox, time_machine):
    time_machine.move_to("2026-11-23 09:00:00+00:00", tick=False)
    client = signed_in("olivia")
    client.get("/account/two-factor")
    first = link_in(mailoutbox[0])
    again = client.post("/account/two-factor", {"send": "yes"}, follow=True)
    assert "less than a minute ago" in again.content.decode() and len(mailoutbox) == 1
    time_machine.move_to("2026-11-23 09:02:00+00:00", tick=False)
    client.post("/account/two-factor", {"send": "yes"})
    assert len(mailoutbox) == 2
    stale = client.get(first)
    assert stale.status_code == 400 and "newer one" in stale.content.decode()
    assert client.get(link_in(mailoutbox[1]))["Location"] == "/account/two-factor"
    enrol(client, "olivia")


def test_org_06_without_an_email_address_only_an_administrator_can_open_enrolment(
        trust, mailoutbox):
    client = signed_in("leslie")
    page = client.get("/account/two-factor").content.decode()
    assert "no email address" in page and "Or ask an administrator" in page and QR not in page
    assert mailoutbox == []


def test_org_06_an_administrator_opens_enrolment_from_the_persons_page(olivia, trust,
                                                                       mailoutbox):
    url = f"/people/{olivia.pk}/"
    adam = login(Client(), trust.people["adam"], verified=True)
    assert "Open enrolment for 24 hours" in adam.get(url).content.decode()
    # Not for anyone else, nor for oneself.
    leslie = login(Client(), trust.people["leslie"], verified=True)
    assert "Open enrolment" not in leslie.get(url).content.decode()
    assert leslie.post(f"{url}two-factor-enrolment").status_code == 403
    own = adam.post(f"/people/{trust.people['adam'].pk}/two-factor-enrolment", follow=True)
    assert "Someone else must open enrolment for you." in own.content.decode()
    assert not AuditEvent.objects.filter(action="two_factor.enrolment_open").exists()

    opened = adam.post(f"{url}two-factor-enrolment", follow=True)
    assert "Enrolment is open for Olivia until" in opened.content.decode()
    audited = AuditEvent.objects.get(action="two_factor.enrolment_open")
    assert audited.actor == trust.people["adam"].user and "olivia" in audited.summary

    client = signed_in("olivia")
    enrol(client, "olivia")
    assert mailoutbox == []  # no link was needed
    assert AuditEvent.objects.get(action="two_factor.enrol").changes["after"]["via"] == \
        "administrator"
    page = adam.get(url).content.decode()
    assert "signs in with an authenticator app" in page and "Open enrolment" not in page


def test_org_06_an_opened_enrolment_serves_one_browser_and_runs_out(olivia, trust,
                                                                    time_machine):
    time_machine.move_to("2026-11-23 09:00:00+00:00", tick=False)
    call_command("enrolment", "open", "olivia", "--hours", "2")
    first = signed_in("olivia")
    assert QR in first.get("/account/two-factor").content.decode()
    assert QR not in signed_in("olivia").get("/account/two-factor").content.decode()
    time_machine.move_to("2026-11-23 11:01:00+00:00", tick=False)
    assert QR not in first.get("/account/two-factor").content.decode()


def test_org_06_enrolment_opened_at_the_command_line_is_audited(olivia, trust, capsys):
    call_command("enrolment", "open", "olivia")
    assert "Enrolment open for olivia until" in capsys.readouterr().out
    opened = AuditEvent.objects.get(action="two_factor.enrolment_open")
    assert opened.actor is None and opened.actor_label == "system"
    enrol(signed_in("olivia"), "olivia")
    with pytest.raises(CommandError, match="already set up an authenticator app"):
        call_command("enrolment", "open", "olivia")
    with pytest.raises(CommandError, match="no user called"):
        call_command("enrolment", "open", "nobody")


def test_org_06_demo_privileged_accounts_can_still_set_up_their_app(db, capsys):
    from lonewatch.org import demo

    call_command("demo")
    assert "the demo opens enrolment for them" in capsys.readouterr().out
    client = signed_in("olivia.operator", demo.PASSWORD)
    enrol(client, "olivia.operator")
    assert client.get("/console/").status_code == 200
    # Loading the demo again leaves enrolled accounts alone and does not pile up
    # openings for those still waiting.
    waiting = AuditEvent.objects.filter(action="two_factor.enrolment_open").count()
    call_command("demo")
    assert AuditEvent.objects.filter(action="two_factor.enrolment_open").count() == waiting
