"""ORG-01 / ORG-06: people from HR can sign in. "Forgotten your password?" on the sign-in
page emails a link to choose one, and `import-people --invite` emails new people the
same kind of link. Everything here goes through HTTP, as a browser would, and the
emails are sent by the worker's scanner, called as the worker calls it."""

import re
import smtplib
from datetime import timedelta
from pathlib import Path

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from lonewatch import clock
from lonewatch.accounts.actions import send_password_emails
from lonewatch.accounts.models import PasswordEmail, User
from lonewatch.core.models import AuditEvent
from lonewatch.org.models import Organisation
from lonewatch.worker.loop import scanners
from tests.conftest import PASSWORD

NEW_PASSWORD = "kettle-orchard-lantern"
BASE_URL = "https://lonewatch.example.nhs.uk"
LINK = re.compile(re.escape(BASE_URL) + r"(/password/set/[^/\s]+/[^/\s]+)")


@pytest.fixture(autouse=True)
def _public_address(settings):
    settings.BASE_URL = BASE_URL


@pytest.fixture
def nina(trust):
    nina = trust.people["nina"]
    nina.user.email = "nina.kowalski@trust.example"
    nina.user.save()
    return nina


def ask_for_link(client, email: str, ip: str = "192.0.2.10"):
    return client.post("/password/reset", {"email": email}, REMOTE_ADDR=ip)


def emailed_link(message) -> str:
    """The path of the link in an email, which must start with the public address."""
    found = LINK.search(message.body)
    assert found, message.body
    return found.group(1)


def set_password(client, path: str, password: str = NEW_PASSWORD, again: str | None = None):
    opened = client.get(path)
    assert opened.status_code == 302  # the token moves out of the address
    form = opened["Location"]
    assert form.endswith("/set-password") and client.get(form).status_code == 200
    return client.post(form, {"new_password1": password,
                              "new_password2": password if again is None else again})


def test_org_06_forgotten_password_link_by_email_then_sign_in(nina, client):
    sign_in = client.get("/login").content.decode()
    assert 'href="/password/reset"' in sign_in
    assert client.get("/password/reset").status_code == 200

    response = ask_for_link(client, "  Nina.Kowalski@Trust.example ")
    assert response.status_code == 302 and response["Location"] == "/password/reset/sent"
    assert "Check your email" in client.get(response["Location"]).content.decode()
    assert mail.outbox == []  # the worker sends it, not the page while the person waits

    assert send_password_emails() == 1
    [message] = mail.outbox
    assert message.to == ["nina.kowalski@trust.example"]
    assert message.subject == "Reset your Lonewatch password"
    assert "works once, for 1 hour" in message.body
    path = emailed_link(message)  # from the configured address, not the request's Host

    # The validators apply: too short, then two that differ, then a good one.
    short = set_password(client, path, password="short-one")
    assert short.status_code == 200
    assert "This password is too short" in short.content.decode()
    differ = client.post(short.request["PATH_INFO"], {"new_password1": NEW_PASSWORD,
                                                      "new_password2": NEW_PASSWORD + "x"})
    assert "The two passwords are not the same" in differ.content.decode()
    done = client.post(short.request["PATH_INFO"], {"new_password1": NEW_PASSWORD,
                                                    "new_password2": NEW_PASSWORD})
    assert done.status_code == 302 and done["Location"] == "/password/done"
    assert "Your password is set" in client.get("/password/done").content.decode()

    assert client.post("/login", {"username": "nina", "password": PASSWORD}).status_code == 200
    signed_in = client.post("/login", {"username": "nina", "password": NEW_PASSWORD})
    assert signed_in.status_code == 302 and signed_in["Location"] == "/welcome"
    assert "Hello, Nina" in client.get("/").content.decode()

    # ORG-05: the request and the new password are in the audit trail; the token is not.
    token = path.rsplit("/", 1)[1]
    rows = list(AuditEvent.objects.filter(object_type="accounts.user",
                                          object_id=str(nina.user.pk)).order_by("at", "pk"))
    # The sign-ins around it are in the trail too (ORG-05).
    assert [r.action for r in rows if not r.action.startswith("sign_in")] == [
        "account.password_reset.request", "account.password.set"]
    assert rows[-1].action == "sign_in"
    assert [r.ip for r in rows if r.action == "account.password_reset.request"] == [
        "192.0.2.10"]
    assert all(token not in f"{r.summary} {r.changes}" for r in rows)


def test_org_06_unknown_address_gets_the_same_answer_and_the_same_work(nina, client):
    def ask(email):
        with CaptureQueriesContext(connection) as queries:
            response = ask_for_link(client, email)
        # The statements, without the values (or the savepoints' names) in them.
        shapes = [re.sub(r"'[^']*'|\b\d+(\.\d+)?\b|\bs\d+_x\d+\b", "?", q["sql"])
                  for q in queries]
        return response, shapes

    known, known_work = ask("nina.kowalski@trust.example")
    unknown, unknown_work = ask("nobody@trust.example")
    assert (known.status_code, known["Location"]) == (unknown.status_code, unknown["Location"])
    assert known_work == unknown_work  # nothing looks the address up while the person waits
    assert mail.outbox == []

    assert send_password_emails() == 2
    assert [m.to for m in mail.outbox] == [["nina.kowalski@trust.example"]]
    assert PasswordEmail.objects.get(email="nobody@trust.example").status == "no_account"
    assert not AuditEvent.objects.filter(summary__contains="nobody@trust.example").exists()


def test_org_06_links_are_limited_per_address_and_per_client(nina, client, settings):
    settings.PASSWORD_RESET_PER_ADDRESS = 2
    settings.PASSWORD_RESET_PER_CLIENT = 4
    for email in ("nina.kowalski@trust.example", "nobody@trust.example"):
        assert ask_for_link(client, email).status_code == 302
        assert ask_for_link(client, email).status_code == 302
        # A third for the same address, known or not, is refused the same way.
        limited = ask_for_link(client, email)
        assert limited.status_code == 429
        page = limited.content.decode()
        assert "You have asked for too many links. Wait an hour" in page
        assert page.count("There is a problem") == 1
    # Four from this client already: a fifth, for any address, waits too.
    assert ask_for_link(client, "someone.else@trust.example").status_code == 429
    # Another client, for another address, is not held up.
    assert ask_for_link(client, "someone.else@trust.example", ip="192.0.2.99").status_code == 302
    # An hour on, the address can ask again.
    PasswordEmail.objects.update(requested_at=clock.now() - timedelta(minutes=61))
    assert ask_for_link(client, "nina.kowalski@trust.example").status_code == 302
    send_password_emails()
    assert len(mail.outbox) == 3  # two, then one more an hour later


def test_org_06_expired_used_or_broken_links_are_refused_with_a_clear_page(
        trust, nina, client, time_machine):
    time_machine.move_to("2026-11-23 09:00:00+00:00", tick=False)
    ask_for_link(client, "nina.kowalski@trust.example")
    send_password_emails()
    old = emailed_link(mail.outbox[-1])
    time_machine.move_to("2026-11-23 10:01:00+00:00", tick=False)  # 61 minutes on
    expired = client.get(old)
    assert expired.status_code == 400
    assert "This link does not work" in expired.content.decode()
    assert 'href="/password/reset"' in expired.content.decode()

    ask_for_link(client, "nina.kowalski@trust.example")
    send_password_emails()
    fresh = emailed_link(mail.outbox[-1])
    assert set_password(client, fresh).status_code == 302
    used = client.get(fresh)
    assert used.status_code == 400 and "This link does not work" in used.content.decode()
    # Someone else's account id with Nina's token, and a made-up token.
    uid, token = fresh.split("/")[-2:]
    ben = urlsafe_base64_encode(force_bytes(trust.people["ben"].user.pk))
    assert client.get(f"/password/set/{ben}/{token}").status_code == 400
    assert client.get(f"/password/set/{uid}/abc-123").status_code == 400
    assert client.get(f"/password/set/{uid}/set-password").status_code == 400


def test_org_06_privileged_role_still_gives_its_second_factor_after_a_reset(trust, client):
    olivia = trust.people["olivia"]
    olivia.user.email = "olivia@trust.example"
    olivia.user.save()
    ask_for_link(client, "olivia@trust.example")
    send_password_emails()
    assert set_password(client, emailed_link(mail.outbox[0])).status_code == 302
    assert client.get("/console/")["Location"].startswith("/login")  # not signed in by it
    client.post("/login", {"username": "olivia", "password": NEW_PASSWORD})
    response = client.get("/console/")
    assert response.status_code == 302 and response["Location"] == "/account/two-factor"


def test_org_06_a_mail_server_that_is_down_only_delays_the_email(nina, client, monkeypatch):
    calls = []

    def down_then_up(self):
        calls.append(1)
        if len(calls) == 1:
            raise smtplib.SMTPServerDisconnected("connection closed")
        mail.outbox.append(self)
        return 1

    monkeypatch.setattr("django.core.mail.EmailMessage.send", down_then_up)
    ask_for_link(client, "nina.kowalski@trust.example")
    send_password_emails()
    row = PasswordEmail.objects.get()
    assert row.status == "pending" and "connection closed" in row.error and mail.outbox == []
    PasswordEmail.objects.update(next_attempt_at=clock.now())
    send_password_emails()
    assert PasswordEmail.objects.get().status == "sent" and len(mail.outbox) == 1
    assert AuditEvent.objects.filter(action="account.password_reset.request").count() == 1


def test_org_06_set_password_emails_wait_behind_check_ins_and_alarms_in_each_pass():
    names = [scanner.name for scanner in scanners()]
    urgent = {"missed_deadlines", "escalation_steps", "deliveries", "alarm_realerts"}
    assert urgent <= set(names)
    assert names.index("password_emails") > max(names.index(name) for name in urgent)


HEADER = "username,full_name,email,mobile,directorate,team,roles,line_manager,buddy\n"
PEOPLE = HEADER + (
    "maria.m,Maria Santos,maria@trust.example,,Community,North,line_manager,,\n"
    "nina.n,Nina Kowalski,nina@trust.example,,Community,North,lone_worker,maria.m,\n"
    "sarah.s,Sarah Okafor,,,Community,,senior_manager,,\n"
)


@pytest.fixture
def hr_file(tmp_path) -> Path:
    path = tmp_path / "people.csv"
    path.write_text(PEOPLE)
    return path


def test_org_01_import_without_invite_sends_nothing(db, hr_file):
    Organisation.objects.create(name="Import Trust")
    call_command("import_people", str(hr_file), "--create-teams")
    assert not PasswordEmail.objects.exists()
    send_password_emails()
    assert mail.outbox == []


def test_org_01_import_with_invite_emails_new_people_a_link_to_set_their_password(
        db, hr_file, client, capsys, time_machine):
    time_machine.move_to("2026-11-23 09:00:00+00:00", tick=False)
    Organisation.objects.create(name="Import Trust")
    call_command("import_people", str(hr_file), "--create-teams", "--invite")
    assert "invited 2 of 3 new people" in capsys.readouterr().out
    assert mail.outbox == []  # queued with the import; the worker sends after it commits
    assert send_password_emails() == 2
    by_address = {m.to[0]: m for m in mail.outbox}
    assert set(by_address) == {"maria@trust.example", "nina@trust.example"}  # Sarah has none
    invitation = by_address["nina@trust.example"]
    assert invitation.subject == "Set your Lonewatch password"
    assert "Your username is nina.n" in invitation.body and "7 days" in invitation.body
    assert AuditEvent.objects.filter(action="account.invitation.send").count() == 2

    # Re-importing the same file invites nobody: nobody is new.
    call_command("import_people", str(hr_file), "--invite")
    assert send_password_emails() == 0 and len(mail.outbox) == 2

    # Days later, longer than a reset link lasts, the invitation still works; once.
    time_machine.move_to("2026-11-26 09:00:00+00:00", tick=False)
    path = emailed_link(invitation)
    assert set_password(client, path).status_code == 302
    assert client.get(path).status_code == 400
    response = client.post("/login", {"username": "nina.n", "password": NEW_PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/welcome"
    assert User.objects.get(username="nina.n").has_usable_password()
    # Maria waited too long: past LONEWATCH_INVITATION_DAYS, her link is refused.
    time_machine.move_to("2026-12-01 09:00:00+00:00", tick=False)
    assert client.get(emailed_link(by_address["maria@trust.example"])).status_code == 400


def test_org_01_failed_import_invites_nobody(db, tmp_path):
    Organisation.objects.create(name="Import Trust")
    bad = tmp_path / "bad.csv"
    bad.write_text(PEOPLE + "ben.b,Ben Carter,ben@trust.example,,Community,Nowhere,"
                            "lone_worker,,\n")
    with pytest.raises(Exception, match="nothing was imported"):
        call_command("import_people", str(bad), "--invite")
    assert not PasswordEmail.objects.exists()
