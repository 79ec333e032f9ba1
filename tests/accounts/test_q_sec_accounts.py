"""Q-SEC: sign-in, lockout, second factor for privileged roles, API tokens."""

import pytest
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from lonewatch.accounts.actions import do_create_token, do_open_enrolment, do_revoke_token
from lonewatch.accounts.models import ApiToken, digest
from lonewatch.core.models import AuditEvent
from tests.conftest import PASSWORD


def _code(device):
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


def test_q_sec_pages_need_a_login(trust, client):
    for path in ("/", "/people/", f"/people/{trust.people['nina'].pk}/", "/teams/", "/profile/",
                 "/audit/"):
        response = client.get(path)
        assert response.status_code == 302 and response["Location"].startswith("/login?next=")


def test_q_sec_login_and_logout(trust, client):
    response = client.post("/login", {"username": "nina", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/welcome"
    assert "Hello, Nina" in client.get("/").content.decode()
    client.post("/logout")
    assert client.get("/").status_code == 302


def test_q_sec_wrong_password_says_so_plainly(trust, client):
    response = client.post("/login", {"username": "nina", "password": "wrong"})
    assert response.status_code == 200
    assert "The username or password is not right" in response.content.decode()


def test_q_sec_repeated_failures_lock_the_account(trust, client, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/login", {"username": "nina", "password": "wrong"})
    response = client.post("/login", {"username": "nina", "password": PASSWORD})
    assert response.status_code == 429
    assert "Too many attempts" in response.content.decode()
    # Another account from the same place is not locked out with it.
    assert client.post("/login", {"username": "ben", "password": PASSWORD}).status_code == 302


def test_q_sec_privileged_role_must_enrol_and_use_totp(trust, client):
    # ORG-06: enrolment needs more than the password (tests/accounts/test_org_06_enrolment.py).
    do_open_enrolment(trust.people["olivia"].user, actor=trust.people["adam"].user)
    client.post("/login", {"username": "olivia", "password": PASSWORD})
    response = client.get("/people/")
    assert response.status_code == 302 and response["Location"] == "/account/two-factor"
    page = client.get("/account/two-factor").content.decode()
    assert "Set up your authenticator app" in page and "QR code for your" in page
    device = TOTPDevice.objects.get(user=trust.people["olivia"].user)
    assert not device.confirmed
    wrong = client.post("/account/two-factor", {"code": "000000"})
    assert "That code is not right" in wrong.content.decode()
    # django-otp slows down guessing: straight after a wrong code, even a right one waits.
    throttled = client.post("/account/two-factor", {"code": _code(device)})
    assert "Too many wrong codes. Wait" in throttled.content.decode()
    device.refresh_from_db()
    device.throttle_reset()
    response = client.post("/account/two-factor", {"code": _code(device)})
    assert response.status_code == 302
    device.refresh_from_db()
    assert device.confirmed
    assert client.get("/people/").status_code == 200
    assert AuditEvent.objects.filter(action="two_factor.enrol").exists()


def test_q_sec_enrolled_privileged_user_is_asked_for_the_code_next_time(trust, client):
    user = trust.people["leslie"].user
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    client.post("/login", {"username": "leslie", "password": PASSWORD})
    page = client.get("/account/two-factor").content.decode()
    assert "Enter your code" in page and "QR code for your" not in page
    client.post("/account/two-factor", {"code": _code(device)})
    assert client.get("/audit/").status_code == 200


def test_q_sec_ordinary_roles_need_no_second_factor(trust, client):
    client.post("/login", {"username": "maria", "password": PASSWORD})
    assert client.get("/people/").status_code == 200


def test_q_sec_token_is_hashed_at_rest_and_shown_once(trust):
    nina = trust.people["nina"].user
    token, raw = do_create_token(nina, name="Nina's phone", actor=nina)
    assert raw.startswith("lw_") and len(raw) > 40
    stored = ApiToken.objects.get(pk=token.pk)
    assert stored.digest == digest(raw) and raw not in str(ApiToken.objects.values())


def test_q_sec_api_without_token_is_401_json(trust, client):
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert response["Content-Type"].startswith("application/json")
    assert "Bearer" in response.json()["detail"]
    assert response["WWW-Authenticate"].startswith("Bearer")
    bad = client.get("/api/v1/me", headers={"Authorization": "Bearer lw_nonsense"})
    assert bad.status_code == 401


def test_q_sec_revoked_token_stops_working_and_last_use_is_kept(trust, client):
    nina = trust.people["nina"].user
    token, raw = do_create_token(nina, name="phone", actor=nina)
    auth = {"Authorization": f"Bearer {raw}"}
    assert client.get("/api/v1/me", headers=auth).status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None
    do_revoke_token(token, actor=nina)
    assert client.get("/api/v1/me", headers=auth).status_code == 401


def test_q_sec_deactivated_user_token_is_refused(trust, client):
    nina = trust.people["nina"].user
    _token, raw = do_create_token(nina, name="phone", actor=nina)
    nina.is_active = False
    nina.save()
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {raw}"}).status_code == 401


def test_q_sec_tokens_made_and_revoked_from_the_profile_page(trust, as_person):
    client = as_person(trust.people["nina"])
    page = client.post("/profile/tokens", {"name": "Work phone"}).content.decode()
    token = ApiToken.objects.get(user=trust.people["nina"].user)
    assert "Copy it now" in page and token.prefix in page
    response = client.post(f"/profile/tokens/{token.pk}/revoke")
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_q_sec_nobody_revokes_someone_elses_token(trust, as_person):
    ben = trust.people["ben"].user
    token, _raw = do_create_token(ben, name="phone", actor=ben)
    client = as_person(trust.people["nina"])
    assert client.post(f"/profile/tokens/{token.pk}/revoke").status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


@pytest.mark.parametrize("username", ["nina", "nobody"])
def test_q_sec_token_command_prints_a_working_token(trust, username, capsys, client):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    if username == "nobody":
        with pytest.raises(CommandError, match="no active user"):
            call_command("token", "create", username)
        return
    call_command("token", "create", username, "--name", "tablet")
    raw = capsys.readouterr().out.strip()
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {raw}"})
    assert response.json()["username"] == "nina"
