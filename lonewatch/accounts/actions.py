"""State changes to logins, second factors and tokens. Each owns its transaction and
audit row."""

import logging
import smtplib
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from lonewatch import clock
from lonewatch.accounts.models import TOKEN_PREFIX, ApiToken, EnrolmentGrant, User, digest
from lonewatch.core import audit
from lonewatch.org.roles import PRIVILEGED_ROLES

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
