"""Q-SEC, ORG-06: over the API, a privileged role's rights need the second factor too.

A token acts with its owner's privileged roles (alarm-centre operator, security
manager, administrator) only if it was made on the profile page after the second
factor, or asked for explicitly at the command line (``--privileged``). Such a token
expires. Any other token of a privileged account acts on its owner's own record only.
"""

import re
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from lonewatch import clock
from lonewatch.accounts.actions import do_create_token
from lonewatch.accounts.models import ApiToken
from lonewatch.alarms.actions import do_duty
from lonewatch.alarms.models import Alarm
from lonewatch.core.models import AuditEvent

WEBM = b"\x1a\x45\xdf\xa3" + b"header-and-first-cluster"


def bearer(raw: str) -> dict:
    return {"Authorization": f"Bearer {raw}"}


def cli_token(capsys, *args) -> str:
    call_command("token", "create", *args)
    return capsys.readouterr().out.strip()


@pytest.fixture
def alarm(client, trust, nina_ready, settings, tmp_path):
    """A red alert from Nina's phone, with some audio, for the alarm centre to handle."""
    settings.DATA_DIR = tmp_path
    olivia = trust.people["olivia"]
    do_duty(olivia, on=True, actor=olivia.user)
    phone = bearer(do_create_token(nina_ready.user, name="phone", actor=nina_ready.user)[1])
    aid = client.post("/api/v1/alarms", {}, content_type="application/json",
                      headers=phone).json()["id"]
    assert client.post(f"/api/v1/alarms/{aid}/audio?seq=0", WEBM, content_type="audio/webm",
                       headers=phone).status_code == 201
    return Alarm.objects.get(pk=aid)


def acknowledge(client, alarm, raw):
    return client.post(f"/api/v1/alarms/{alarm.pk}/acknowledge", {},
                       content_type="application/json", headers=bearer(raw))


def recording(client, alarm, raw):
    return client.get(f"/api/v1/alarms/{alarm.pk}/recording", headers=bearer(raw))


def test_q_sec_plain_cli_token_of_an_operator_cannot_handle_alarms_or_hear_them(
        client, trust, alarm, capsys):
    raw = cli_token(capsys, "olivia")
    # As for anyone without the right: no such alarm, as far as this token can tell.
    assert recording(client, alarm, raw).status_code == 404
    assert acknowledge(client, alarm, raw).status_code == 404
    assert client.get("/api/v1/alarms", headers=bearer(raw)).json() == []
    assert client.get(f"/api/v1/people/{trust.people['nina'].pk}",
                      headers=bearer(raw)).status_code == 404
    alarm.refresh_from_db()
    assert alarm.state == "raised" and alarm.acknowledged_by is None
    assert not AuditEvent.objects.filter(action="alarm.recording.read").exists()
    # Her own record, as any worker may.
    me = client.get("/api/v1/me", headers=bearer(raw))
    assert me.status_code == 200 and me.json()["username"] == "olivia"
    amber = client.post("/api/v1/ambers", {"message": "Car park lights out"},
                        content_type="application/json", headers=bearer(raw))
    assert amber.status_code == 201
    assert [t["privileged"] for t in client.get("/api/v1/tokens",
                                                headers=bearer(raw)).json()] == [False]


def test_q_sec_privileged_cli_token_handles_alarms_and_its_making_is_audited(
        client, trust, alarm, capsys):
    call_command("token", "create", "olivia", "--name", "Console", "--privileged")
    printed = capsys.readouterr()
    raw = printed.out.strip()
    assert "Privileged token 'Console' for olivia, until" in printed.err
    played = recording(client, alarm, raw)
    assert played.status_code == 200 and played.content == WEBM
    assert acknowledge(client, alarm, raw).status_code == 200
    alarm.refresh_from_db()
    assert alarm.acknowledged_by == trust.people["olivia"].user
    made = AuditEvent.objects.get(action="token.create", changes__after__user="olivia")
    assert made.actor is None and made.actor_label == "system"
    assert made.changes["after"]["privileged"] is True
    assert made.changes["after"]["expires_at"] is not None


def test_q_sec_privileged_cli_token_is_refused_for_an_account_without_such_a_role(
        trust, capsys):
    with pytest.raises(CommandError, match="holds no privileged role"):
        call_command("token", "create", "nina", "--privileged")
    assert not ApiToken.objects.exists()


def _new_token(page: str) -> str:
    return re.search(r'id="new-token">(lw_[^<]+)<', page).group(1)


def test_q_sec_token_made_on_the_profile_after_the_second_factor_handles_alarms(
        client, trust, alarm, as_person):
    from django.test import Client

    from tests.conftest import login

    profile = login(Client(), trust.people["olivia"], verified=True)
    form = profile.get("/profile/").content.decode()
    assert "Let this device act with my privileged roles" in form
    console = _new_token(profile.post("/profile/tokens", {"name": "Console",
                                                         "privileged": "on"}).content.decode())
    phone = _new_token(profile.post("/profile/tokens", {"name": "Phone"}).content.decode())
    assert recording(client, alarm, phone).status_code == 404
    assert acknowledge(client, alarm, phone).status_code == 404
    assert recording(client, alarm, console).status_code == 200
    assert acknowledge(client, alarm, console).status_code == 200
    assert {t.name: t.privileged for t in ApiToken.objects.filter(
        user__username="olivia")} == {"Console": True, "Phone": False}


def test_q_sec_no_privileged_token_from_the_profile_without_the_second_factor(
        trust, as_person, settings):
    settings.REQUIRE_TWO_FACTOR = False  # the profile opens without it; the token still not
    profile = as_person(trust.people["olivia"])
    assert "act with my privileged roles" not in profile.get("/profile/").content.decode()
    refused = profile.post("/profile/tokens", {"name": "Console", "privileged": "on"})
    assert refused.status_code == 400
    assert "signed in with its authenticator app" in refused.content.decode()
    assert not ApiToken.objects.exists()


def test_q_sec_privileged_token_expires(client, trust, alarm, capsys, settings,
                                        time_machine):
    settings.PRIVILEGED_TOKEN_DAYS = 30
    made_at = clock.now()
    time_machine.move_to(made_at, tick=False)
    raw = cli_token(capsys, "olivia", "--privileged")
    token = ApiToken.objects.get(user__username="olivia")
    assert token.expires_at == made_at + timedelta(days=30)
    time_machine.move_to(made_at + timedelta(days=29, hours=23), tick=False)
    assert client.get("/api/v1/me", headers=bearer(raw)).status_code == 200
    time_machine.move_to(made_at + timedelta(days=30), tick=False)
    expired = client.get("/api/v1/me", headers=bearer(raw))
    assert expired.status_code == 401 and expired["WWW-Authenticate"].startswith("Bearer")
    assert acknowledge(client, alarm, raw).status_code == 401
    # A plain token does not expire.
    plain = cli_token(capsys, "olivia")
    time_machine.move_to(made_at + timedelta(days=3650), tick=False)
    assert client.get("/api/v1/me", headers=bearer(plain)).status_code == 200


def test_q_sec_expired_token_cannot_check_in(client, trust, start_session):
    """On every path, including PostgreSQL's one-statement check-in."""
    session = start_session(interval=600)
    nina = trust.people["nina"]
    token, raw = do_create_token(nina.user, name="phone", actor=nina.user)
    url = f"/api/v1/sessions/{session.pk}/checkins"
    assert client.post(url, {}, content_type="application/json",
                       headers=bearer(raw)).status_code == 200
    ApiToken.objects.filter(pk=token.pk).update(expires_at=clock.now())
    refused = client.post(url, {}, content_type="application/json", headers=bearer(raw))
    assert refused.status_code == 401
    assert session.events.filter(kind="checked_in").count() == 1


def test_q_sec_token_lists_show_rights_and_expiry(client, trust, capsys, as_person,
                                                  time_machine):
    time_machine.move_to("2026-11-23 09:00:00+00:00", tick=False)
    olivia = trust.people["olivia"]
    raw = cli_token(capsys, "olivia", "--name", "Console", "--privileged")
    cli_token(capsys, "olivia", "--name", "Phone")
    listed = {t["name"]: (t["privileged"], t["expires_at"])
              for t in client.get("/api/v1/tokens", headers=bearer(raw)).json()}
    assert listed == {"Console": (True, "2027-02-21T09:00:00Z"), "Phone": (False, None)}
    call_command("token", "list", "olivia")
    out = capsys.readouterr().out
    console = next(line for line in out.splitlines() if line.endswith("Console"))
    assert "privileged" in console and "2027-02-21 09:00" in console and "active" in console
    phone = next(line for line in out.splitlines() if line.endswith("Phone"))
    assert " own " in phone and "2027-02-21" not in phone
    page = as_person(olivia, verified=True).get("/profile/").content.decode()
    assert "Expires" in page and "21 Feb 2027 09:00" in page and "Never" in page
    time_machine.move_to("2027-03-01 09:00:00+00:00", tick=False)
    page = as_person(olivia, verified=True).get("/profile/").content.decode()
    assert "Expired 21 Feb 2027" in page
    call_command("token", "list")
    assert "expired" in capsys.readouterr().out
