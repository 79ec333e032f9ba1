"""State changes to logins, second factors, passwords and tokens. Each owns its
transaction and audit row; emails that can wait go out from the worker once the change has
committed."""

import logging
import smtplib
import time
import unicodedata
from dataclasses import dataclass
from datetime import timedelta

from axes.utils import reset as reset_sign_in_failures
from django.conf import settings
from django.core import signing
from django.core.mail import EmailMessage, get_connection
from django.db import DatabaseError, connection, transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django_otp.plugins.otp_totp.models import TOTPDevice

from lonewatch import clock
from lonewatch.accounts.models import (
    TOKEN_PREFIX,
    ApiToken,
    EnrolmentGrant,
    PasswordEmail,
    User,
    digest,
)
from lonewatch.accounts.tokens import invitation_tokens, reset_tokens
from lonewatch.core import audit, context
from lonewatch.org.roles import PRIVILEGED_ROLES
from lonewatch.worker.claim import claim

log = logging.getLogger("lonewatch.accounts")

# Writing last_used_at on every request would turn each API read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class TokenError(ValueError):
    """A token that cannot be made as asked: the message says why."""


def do_create_token(user: User, *, name: str, actor,
                    privileged: bool = False) -> tuple[ApiToken, str]:
    """Create a token for ``user``; return it and the raw value, which is never stored.

    Q-SEC: ``privileged`` lets the token act with the owner's privileged roles. The
    caller asks for it only after the second factor (the profile page) or on an
    administrator's explicit request (``lonewatch token create --privileged``). Such a
    token expires after ``PRIVILEGED_TOKEN_DAYS``."""
    name = name.strip() or "API token"
    person = getattr(user, "person", None)
    if privileged and (person is None or not person.roles.filter(
            role__in=PRIVILEGED_ROLES).exists()):
        raise TokenError(f"{user.username} holds no privileged role: an ordinary token "
                         "already gives them every right they have.")
    raw = ApiToken.generate()
    now = clock.now()
    expires_at = now + timedelta(days=settings.PRIVILEGED_TOKEN_DAYS) if privileged else None
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user, name=name[:100], prefix=raw[:10], digest=digest(raw),
            created_at=now, privileged=privileged, expires_at=expires_at,
        )
        audit.record("token.create", actor=actor, obj=token,
                     summary=f"{'Privileged' if privileged else 'API'} token '{token.name}' "
                             f"for {user.username}",
                     after={"user": user.username, "name": token.name, "prefix": token.prefix,
                            "privileged": privileged, "expires_at": expires_at})
    return token, raw


def do_revoke_token(token: ApiToken, *, actor) -> None:
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().get(pk=token.pk)
        if token.revoked_at is not None:
            return
        token.revoked_at = clock.now()
        token.save(update_fields=["revoked_at"])
        audit.record("token.revoke", actor=actor, obj=token,
                     summary=f"API token '{token.name}' of {token.user.username} revoked")


class TokenRefused(Exception):
    """The bearer token presented is not a live token: unknown, revoked, expired, or its
    owner's account is switched off. The API answers 401."""


@dataclass(frozen=True)
class PresentedToken:
    """A bearer token as the caller presented it, not yet looked up.

    An action that can check the token inside its own SQL statement (the check-in on
    PostgreSQL, ``visits.actions.do_check_in``) takes this as its ``actor``, so that the
    check costs no round trip of its own; it follows ``LIVE_TOKEN_SQL``. Otherwise the
    action asks ``user()``."""

    raw: str

    @property
    def plausible(self) -> bool:
        return self.raw.startswith(TOKEN_PREFIX)

    @property
    def digest(self) -> str:
        return digest(self.raw)

    def user(self) -> User:
        """The token's user, as ``authenticate_token`` decides; refused if none."""
        user = authenticate_token(self.raw)
        if user is None:
            raise TokenRefused()
        return user


# ``authenticate_token`` in SQL, for a statement that checks the token itself: the common
# table expression ``token``, the live token's ``user_id`` (its last use noted). Its
# parameters are ``live_token_parameters``. The two forms must agree: the check-in's
# tests run every kind of token through both.
LIVE_TOKEN_SQL = """
token AS (
    UPDATE accounts_apitoken AS t SET last_used_at = %(now)s
    FROM accounts_user AS u
    WHERE t.digest = %(token_digest)s AND t.revoked_at IS NULL
        AND (t.expires_at IS NULL OR t.expires_at > %(now)s)
        AND u.id = t.user_id AND u.is_active
    RETURNING t.user_id
)"""  # noqa: S105 - SQL, not a secret


def live_token_parameters(token: PresentedToken, now) -> dict:
    return {"token_digest": token.digest, "now": now}


def authenticate_token(raw: str) -> User | None:
    """The active user behind a live bearer token (not revoked, not expired), or None."""
    if not raw.startswith(TOKEN_PREFIX):
        return None
    now = clock.now()
    token = (
        ApiToken.objects.select_related("user")
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now), digest=digest(raw),
                revoked_at__isnull=True)
        .first()
    )
    if token is None or not token.user.is_active:
        return None
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    user = token.user
    user.api_token = token
    # Q-SEC: the one place a token's reach is decided. Without the second factor behind
    # it, the token's requests see none of the owner's privileged roles
    # (core.permissions.memberships).
    user.withheld_roles = frozenset() if token.privileged else PRIVILEGED_ROLES
    return user


# --- Enrolling a first authenticator app (ORG-06, Q-SEC) ----------------------------------

ENROLMENT_SALT = "lonewatch.accounts.enrolment"
# The Django session key that says which claimed grant this browser may enrol with.
ENROLMENT_SESSION_KEY = "lonewatch_enrolment_grant"
# A new link may be asked for this often: enough to fix a typo, too slow to flood a mailbox.
RESEND_WAIT = timedelta(minutes=1)


class EnrolmentError(ValueError):
    """Enrolment refused: the message is shown to the person as it is."""


def has_authenticator(user: User) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def enrolment_address(user: User) -> str:
    """Where an enrolment link goes: the account's email address, else the person's."""
    person = getattr(user, "person", None)
    return user.email or (person.email if person is not None else "")


def masked(address: str) -> str:
    """Enough of an address for its owner to recognise it, on a page seen after only a
    password."""
    name, _, domain = address.partition("@")
    return f"{name[:1]}•••@{domain}"


def _hhmm(moment) -> str:
    return timezone.localtime(moment).strftime("%H:%M on %d %b")


def live_enrolment_link(user: User) -> EnrolmentGrant | None:
    """The newest emailed link that nobody has opened yet and that still works."""
    return user.enrolment_grants.filter(
        via=EnrolmentGrant.Via.EMAIL, claimed_at__isnull=True, enrolled_at__isnull=True,
        expires_at__gt=clock.now()).order_by("-created_at").first()


def open_enrolment(user: User) -> EnrolmentGrant | None:
    """An administrator's opening that has not yet been used up or run out."""
    return user.enrolment_grants.filter(
        via=EnrolmentGrant.Via.ADMINISTRATOR, enrolled_at__isnull=True,
        expires_at__gt=clock.now()).order_by("-created_at").first()


def enrolment_link(grant: EnrolmentGrant) -> str:
    token = signing.dumps({"grant": grant.pk, "user": grant.user_id}, salt=ENROLMENT_SALT)
    return settings.BASE_URL.rstrip("/") + reverse("two_factor_enrol_link", args=[token])


def do_send_enrolment_link(user: User) -> EnrolmentGrant:
    """Email the account a link with which the browser that opens it, signed in as this
    account, may set up a first authenticator app. Only the newest link works."""
    address = enrolment_address(user)
    if not address:
        raise EnrolmentError("Your account has no email address, so no link can be sent. "
                             "Ask an administrator to open enrolment for you.")
    if has_authenticator(user):
        raise EnrolmentError("You have already set up an authenticator app.")
    now = clock.now()
    # Durable: the email goes only once the grant it names is committed.
    with transaction.atomic(durable=True):
        User.objects.select_for_update().filter(pk=user.pk).first()
        last = user.enrolment_grants.filter(via=EnrolmentGrant.Via.EMAIL).order_by(
            "-created_at").first()
        if last is not None and now - last.created_at < RESEND_WAIT:
            raise EnrolmentError("A link was sent less than a minute ago. Check your email "
                                 "(and its junk folder), then ask again if it has not come.")
        user.enrolment_grants.filter(via=EnrolmentGrant.Via.EMAIL, claimed_at__isnull=True,
                                     expires_at__gt=now).update(expires_at=now)
        grant = EnrolmentGrant.objects.create(
            user=user, via=EnrolmentGrant.Via.EMAIL, created_at=now,
            expires_at=now + timedelta(minutes=settings.ENROLMENT_LINK_MINUTES))
        audit.record("two_factor.enrolment_link", actor=user, obj=user,
                     summary=f"Link to set up an authenticator app emailed to {user.username} "
                             f"({masked(address)})",
                     after={"grant": grant.pk, "expires_at": grant.expires_at})
    # Sent while the person waits on the page rather than queued for the worker: if it
    # fails they are told at once and can ask again, or ask an administrator.
    message = EmailMessage(
        subject="Set up your authenticator app for Lonewatch",
        body=(f"Someone signed in to Lonewatch as {user.username} with your password and "
              "asked to set up an authenticator app, the second step your role needs to "
              "sign in.\n\n"
              f"If it was you, open this link on the same device, signed in as "
              f"{user.username}, by {_hhmm(grant.expires_at)}. It works once:\n\n"
              f"{enrolment_link(grant)}\n\n"
              "If it was not you, do not open it. Someone knows your password: change it, "
              "and tell your security team.\n"),
        from_email=settings.DEFAULT_FROM_EMAIL, to=[address])
    try:
        message.send()
    except (smtplib.SMTPException, OSError) as error:
        log.warning("enrolment link not sent", extra={"user": user.username,
                                                      "error": str(error)})
        raise EnrolmentError("The email could not be sent just now. Try again in a few "
                             "minutes, or ask an administrator to open enrolment for you."
                             ) from None
    return grant


def do_claim_enrolment_link(user: User, token: str) -> EnrolmentGrant:
    """The signed-in browser that opens an emailed link takes it: the link is used up,
    and only this browser may enrol with it (``ENROLMENT_SESSION_KEY``)."""
    try:
        data = signing.loads(token, salt=ENROLMENT_SALT,
                             max_age=settings.ENROLMENT_LINK_MINUTES * 60)
    except signing.SignatureExpired:
        raise EnrolmentError("This link has expired. Sign in again to be sent a new one."
                             ) from None
    except signing.BadSignature:
        raise EnrolmentError("This link is not right. Use the newest link in your email, "
                             "exactly as it was sent.") from None
    now = clock.now()
    with transaction.atomic():
        grant = EnrolmentGrant.objects.select_for_update().filter(
            pk=data.get("grant"), via=EnrolmentGrant.Via.EMAIL).first()
        if grant is None or grant.user_id != user.pk or data.get("user") != user.pk:
            raise EnrolmentError("This link was sent to someone else. Sign out, then sign in "
                                 "as the person it was sent to.")
        if grant.claimed_at is not None:
            raise EnrolmentError("This link has already been used. Sign in again to be sent "
                                 "a new one.")
        if not grant.live(now):
            raise EnrolmentError("This link no longer works: it has expired, or a newer one "
                                 "was sent. Use the newest link in your email.")
        if has_authenticator(user):
            raise EnrolmentError("You have already set up an authenticator app.")
        _claim(grant, now)
    return grant


def do_claim_open_enrolment(user: User) -> EnrolmentGrant | None:
    """Take an administrator's opening for this browser, if one is waiting."""
    now = clock.now()
    with transaction.atomic():
        grant = EnrolmentGrant.objects.select_for_update().filter(
            user=user, via=EnrolmentGrant.Via.ADMINISTRATOR, claimed_at__isnull=True,
            enrolled_at__isnull=True, expires_at__gt=now).order_by("-created_at").first()
        if grant is None or has_authenticator(user):
            return None
        _claim(grant, now)
    return grant


def _claim(grant: EnrolmentGrant, now) -> None:
    """Inside the caller's transaction: the grant is this browser's; any authenticator
    secret made before it is thrown away, so whoever saw one learns nothing."""
    grant.claimed_at = now
    grant.save(update_fields=["claimed_at"])
    TOTPDevice.objects.filter(user=grant.user_id, confirmed=False).delete()


def claimed_enrolment(user: User, grant_id) -> EnrolmentGrant | None:
    """The grant this browser claimed, while it still lets it enrol."""
    if not grant_id:
        return None
    grant = EnrolmentGrant.objects.filter(pk=grant_id, user=user,
                                          claimed_at__isnull=False).first()
    return grant if grant is not None and grant.live(clock.now()) else None


def do_open_enrolment(user: User, *, actor, hours: int | None = None) -> EnrolmentGrant:
    """An administrator lets ``user`` set up a first authenticator app after signing in
    with their password, for ``hours`` (default ``ENROLMENT_OPEN_HOURS``). ``actor`` is
    None at the command line."""
    hours = settings.ENROLMENT_OPEN_HOURS if hours is None else hours
    if not 1 <= hours <= 14 * 24:
        raise EnrolmentError("Enrolment can be opened for 1 hour to 14 days.")
    if actor is not None and actor.pk == user.pk:
        raise EnrolmentError("Someone else must open enrolment for you.")
    if not user.is_active:
        raise EnrolmentError(f"{user.username} cannot sign in: their account is switched off.")
    if has_authenticator(user):
        raise EnrolmentError(f"{user.username} has already set up an authenticator app.")
    now = clock.now()
    with transaction.atomic():
        grant = EnrolmentGrant.objects.create(
            user=user, via=EnrolmentGrant.Via.ADMINISTRATOR, opened_by=actor, created_at=now,
            expires_at=now + timedelta(hours=hours))
        audit.record("two_factor.enrolment_open", actor=actor, obj=user,
                     summary=f"Enrolment of an authenticator app opened for {user.username} "
                             f"until {_hhmm(grant.expires_at)}",
                     after={"grant": grant.pk, "expires_at": grant.expires_at})
    return grant


def do_enrol_authenticator(user: User, *, device: TOTPDevice, grant: EnrolmentGrant) -> None:
    """The code from the new app was right: the device is the account's second factor."""
    now = clock.now()
    with transaction.atomic():
        grant = EnrolmentGrant.objects.select_for_update().get(pk=grant.pk)
        if grant.user_id != user.pk or grant.claimed_at is None or not grant.live(now):
            raise EnrolmentError("Enrolment has expired. Sign in again to start it afresh.")
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        grant.enrolled_at = now
        grant.save(update_fields=["enrolled_at"])
        audit.record("two_factor.enrol", actor=user, obj=user,
                     summary=f"{user.username} set up an authenticator app "
                             f"({grant.get_via_display().lower()})",
                     after={"via": grant.via, "grant": grant.pk})


# ORG-06: set-password links, asked for on the sign-in page or sent on import.
RESET_WINDOW = timedelta(hours=1)  # the rate limits count requests in the last hour
SEND_LEASE = timedelta(seconds=60)  # a worker that dies sending leaves the row this long
SEND_ATTEMPTS = 6  # then the email is given up (about 15 minutes of retries)
SEND_BUDGET_SECONDS = 3
FINISHED_KEPT = timedelta(days=1)


class TooManyResetRequests(Exception):
    """The address typed in, or the client asking, had its links for this hour."""


def do_request_password_reset(email: str, *, client_ip: str | None) -> None:
    """Someone on the sign-in page asks for a link to set the password of the account
    with ``email``. Nobody is signed in, so there is no actor.

    The request does the same work whether or not an account has that address (no
    account enumeration, by the answer or by its timing): it checks the hourly limits
    and writes the request down. The worker then looks for the account, emails the link
    and writes the audit row (``send_password_emails``). Raises TooManyResetRequests
    when the address or the client has asked too often in the last hour.
    """
    email = email.strip().lower()
    now = clock.now()
    with transaction.atomic():
        recent = PasswordEmail.objects.filter(kind=PasswordEmail.Kind.RESET,
                                              requested_at__gt=now - RESET_WINDOW)
        if recent.filter(email=email).count() >= settings.PASSWORD_RESET_PER_ADDRESS:
            raise TooManyResetRequests(email)
        if client_ip and recent.filter(client_ip=client_ip).count() >= \
                settings.PASSWORD_RESET_PER_CLIENT:
            raise TooManyResetRequests(client_ip)
        PasswordEmail.objects.create(kind=PasswordEmail.Kind.RESET, email=email,
                                     client_ip=client_ip, requested_at=now,
                                     next_attempt_at=now)


def queue_invitation_in_transaction(user: User) -> bool:
    """Inside the caller's transaction (an import): have the worker email ``user`` an
    invitation to set their password once that transaction commits. False if they have
    no email address."""
    if not connection.in_atomic_block:
        raise RuntimeError("an invitation is queued inside the transaction that adds the person")
    if not user.email:
        return False
    now = clock.now()
    PasswordEmail.objects.create(kind=PasswordEmail.Kind.INVITATION, email=user.email,
                                 user=user, requested_at=now, next_attempt_at=now)
    return True


def do_set_password_from_link(user: User, *, password: str) -> None:
    """The person behind a reset or invitation link chose ``password`` (already checked
    by the password validators). The link then stops working: its token was made from
    the old password hash. They sign in as usual afterwards, second factor and all."""
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        user.set_password(password)
        user.save(update_fields=["password"])
        audit.record("account.password.set", actor=user, obj=user,
                     summary=f"{user.username} set a new password with an emailed link")
        # Failed sign-ins before the reset say nothing about the new password.
        reset_sign_in_failures(username=user.username)


def send_password_emails(limit: int = 20) -> int:
    """Worker: email the set-password links that are due. Returns how many were handled."""
    now = clock.now()
    with transaction.atomic():
        ids = claim(
            PasswordEmail.objects.filter(status=PasswordEmail.Status.PENDING,
                                         next_attempt_at__lte=now).order_by("next_attempt_at"),
            limit=limit, update={"next_attempt_at": now + SEND_LEASE,
                                 "attempts": F("attempts") + 1})
    # A slow mail server must not hold up missed deadlines and escalation steps, which
    # run in the same loop: after a few seconds the rest of the batch is handed back.
    budget = time.monotonic() + SEND_BUDGET_SECONDS
    for row in PasswordEmail.objects.filter(pk__in=ids).select_related("user").order_by("pk"):
        if time.monotonic() > budget:
            PasswordEmail.objects.filter(pk=row.pk, status=PasswordEmail.Status.PENDING).update(
                next_attempt_at=clock.now(), attempts=F("attempts") - 1)
            continue
        with context.job("password-email"):
            _send(row)
    # Addresses typed in by anyone are not kept longer than the limits need them.
    PasswordEmail.objects.filter(requested_at__lt=now - FINISHED_KEPT).exclude(
        status=PasswordEmail.Status.PENDING).delete()
    return len(ids)


def _same_address(typed: str, stored: str) -> bool:
    # As Django's reset form: a database's case-insensitive match can join addresses
    # that differ (dotless i), so the address must match once normalised, and the email
    # only ever goes to the address stored on the account.
    def fold(text):
        return unicodedata.normalize("NFKC", text).casefold()

    return fold(typed) == fold(stored)


def _recipients(row: PasswordEmail) -> list[User]:
    if row.kind == PasswordEmail.Kind.INVITATION:
        user = row.user
        return [user] if user is not None and user.is_active and user.email else []
    # People imported from HR have no usable password yet: this is how they get one.
    return [user for user in User.objects.filter(email__iexact=row.email, is_active=True)
            if _same_address(row.email, user.email)]


def lasts(seconds: int) -> str:
    """How long a link works, in words: "1 hour", "7 days", "90 minutes"."""
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return f"{seconds} seconds"


def _email(row: PasswordEmail, user: User) -> None:
    invitation = row.kind == PasswordEmail.Kind.INVITATION
    tokens = invitation_tokens if invitation else reset_tokens
    path = reverse("password_reset_confirm", kwargs={
        "uidb64": urlsafe_base64_encode(force_bytes(user.pk)), "token": tokens.make_token(user)})
    # The configured public address, never a request's Host header.
    base = settings.BASE_URL.rstrip("/")
    body = render_to_string(
        "accounts/email/invitation.txt" if invitation else "accounts/email/password_reset.txt",
        {"name": user.first_name or user.username, "username": user.username,
         "link": base + path, "sign_in": base + reverse("login"),
         "lasts": lasts(settings.INVITATION_TIMEOUT if invitation
                        else settings.PASSWORD_RESET_TIMEOUT)})
    EmailMessage(
        subject="Set your Lonewatch password" if invitation else "Reset your Lonewatch password",
        body=body, from_email=settings.DEFAULT_FROM_EMAIL, to=[user.email],
        connection=get_connection(fail_silently=False),
    ).send()


def _send(row: PasswordEmail) -> None:
    users = _recipients(row)
    now = clock.now()
    if not users:
        PasswordEmail.objects.filter(pk=row.pk).update(status=PasswordEmail.Status.NO_ACCOUNT)
        return
    try:
        for user in users:
            _email(row, user)
    except (smtplib.SMTPException, OSError) as error:
        # Perhaps the mail server is down for a moment: try again, for a while.
        given_up = row.attempts >= SEND_ATTEMPTS
        log.warning("set-password email not sent", extra={
            "kind": row.kind, "attempt": row.attempts, "given_up": given_up, "error": str(error)})
        PasswordEmail.objects.filter(pk=row.pk).update(
            status=PasswordEmail.Status.FAILED if given_up else PasswordEmail.Status.PENDING,
            next_attempt_at=now + timedelta(seconds=15 * 2 ** row.attempts),
            error=str(error)[:300])
        return
    except DatabaseError:
        raise  # the worker waits for the database and the row is tried again
    except Exception as error:
        # A bug, not the mail server: trying again every minute would not help.
        log.exception("set-password email failed", extra={"kind": row.kind})
        PasswordEmail.objects.filter(pk=row.pk).update(status=PasswordEmail.Status.FAILED,
                                                       error=repr(error)[:300])
        return
    ip = context.client_ip.set(row.client_ip)  # the audit row says where the request came from
    try:
        with transaction.atomic():
            PasswordEmail.objects.filter(pk=row.pk).update(status=PasswordEmail.Status.SENT,
                                                           sent_at=now, error="")
            for user in users:
                if row.kind == PasswordEmail.Kind.INVITATION:
                    audit.record("account.invitation.send", actor=None, obj=user,
                                 summary=f"Invitation to set a password emailed to "
                                         f"{user.username} at {user.email}")
                else:
                    audit.record("account.password_reset.request", actor=None, obj=user,
                                 summary=f"Password reset asked for; link emailed to "
                                         f"{user.username} at {user.email}")
    finally:
        context.client_ip.reset(ip)
# --- sign-ins (ORG-05, Q-SEC) ----------------------------------------------------------
# Connected to Django's and django-axes' signals in AccountsConfig.ready(). The password is
# never recorded, nor a username that matches no account: it may be a password typed
# into the wrong box.

def _account(username) -> User | None:
    if not isinstance(username, str) or not username:
        return None
    return User.objects.filter(username=username).first()


def record_sign_in(sender, request=None, user=None, **kwargs) -> None:
    """``user_logged_in``: someone signed in with their password."""
    with transaction.atomic():
        audit.record("sign_in", actor=user, obj=user,
                     summary=f"{user.get_username()} signed in")


def record_sign_in_failure(sender, credentials=None, request=None, **kwargs) -> None:
    """``user_login_failed``: a wrong password, an unknown username, or an attempt
    refused while the username is locked out (django-axes also reports that below)."""
    user = _account((credentials or {}).get("username"))
    with transaction.atomic():
        if user is None:
            audit.record("sign_in.failed", actor=None, actor_label="anonymous",
                         object_type="accounts.user",
                         summary="Sign-in failed: no account has that username")
        else:
            audit.record("sign_in.failed", actor=None, actor_label="anonymous", obj=user,
                         summary=f"Sign-in as {user.get_username()} failed")


def record_lockout(sender, request=None, username=None, ip_address=None, **kwargs) -> None:
    """django-axes' ``user_locked_out``: too many failures; sign-ins with this username
    are refused for ``LONEWATCH_LOGIN_LOCKOUT_MINUTES``. Sent again for each attempt
    refused while locked out."""
    user = _account(username)
    with transaction.atomic():
        audit.record("sign_in.locked_out", actor=None, actor_label="anonymous",
                     obj=user, object_type=None if user else "accounts.user",
                     summary=f"Sign-in as {user.get_username() if user else 'an unknown username'}"
                             " refused: locked out after too many failed attempts")
