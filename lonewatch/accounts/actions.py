"""State changes to logins, passwords and tokens. Each owns its transaction and audit
row; emails go out from the worker once the change has committed."""

import logging
import smtplib
import time
import unicodedata
from datetime import timedelta

from axes.utils import reset as reset_sign_in_failures
from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import DatabaseError, connection, transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from lonewatch import clock
from lonewatch.accounts.models import ApiToken, PasswordEmail, User, digest
from lonewatch.accounts.tokens import invitation_tokens, reset_tokens
from lonewatch.core import audit, context
from lonewatch.worker.claim import claim

log = logging.getLogger("lonewatch.accounts")

# Writing last_used_at on every request would turn each API read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def do_create_token(user: User, *, name: str, actor) -> tuple[ApiToken, str]:
    """Create a token for ``user``; return it and the raw value, which is never stored."""
    name = name.strip() or "API token"
    raw = ApiToken.generate()
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user, name=name[:100], prefix=raw[:10], digest=digest(raw),
            created_at=clock.now(),
        )
        audit.record("token.create", actor=actor, obj=token,
                     summary=f"API token '{token.name}' for {user.username}",
                     after={"user": user.username, "name": token.name, "prefix": token.prefix})
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


def authenticate_token(raw: str) -> User | None:
    """The active user behind a bearer token, or None."""
    if not raw.startswith("lw_"):
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(digest=digest(raw), revoked_at__isnull=True)
        .first()
    )
    if token is None or not token.user.is_active:
        return None
    now = clock.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    token.user.api_token = token
    return token.user


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
