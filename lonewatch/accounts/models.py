import hashlib
import secrets

from django.contrib.auth.models import AbstractUser
from django.db import models

from lonewatch import clock


class User(AbstractUser):
    """The login. Who the person is (name, team, roles) lives on ``org.Person``."""

    class Meta:
        db_table = "accounts_user"


TOKEN_PREFIX = "lw_"  # noqa: S105 - a marker, not a secret


def digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiToken(models.Model):
    """A per-device API token. Only its SHA-256 is stored; the token is shown once.

    Q-SEC: a token acts with its owner's privileged roles (security manager, alarm-centre
    operator, administrator) only if it is ``privileged``: made on the profile page after
    the second factor, or asked for by an administrator at the command line. Such a
    token expires. Any other token of a privileged account acts as any worker may, on
    its owner's own record only.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12)
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    privileged = models.BooleanField(default=False)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @property
    def active(self):
        return self.revoked_at is None and not self.expired

    @property
    def expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= clock.now()

    @staticmethod
    def generate() -> str:
        return TOKEN_PREFIX + secrets.token_urlsafe(32)


class EnrolmentGrant(models.Model):
    """Leave to set up a first authenticator app (ORG-06, Q-SEC).

    A password alone does not enrol a second factor: the person opens a link sent to
    their account's email address, or an administrator opens enrolment for them. The
    first signed-in browser to use a grant claims it (the Django session keeps its id);
    only that browser may enrol with it, once, until it expires.
    """

    class Via(models.TextChoices):
        EMAIL = "email", "Link sent by email"
        ADMINISTRATOR = "administrator", "Opened by an administrator"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="enrolment_grants")
    via = models.CharField(max_length=20, choices=Via.choices)
    opened_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="+")
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    claimed_at = models.DateTimeField(null=True, blank=True)
    enrolled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "expires_at"], name="enrolment_grant_user_idx")]

    def __str__(self):
        return f"{self.get_via_display()} for {self.user}"

    def live(self, now) -> bool:
        return self.enrolled_at is None and now < self.expires_at


class PasswordEmail(models.Model):
    """An email with a link to set a password (ORG-06): a reset someone asked for with
    "Forgotten your password?", or an invitation from ``import-people --invite``.

    A row is written when the request (or the import) commits, and the worker sends
    the email: so the page answers the same, as fast, whether or not the address
    belongs to anyone, and a mail server that is down only delays the email. The
    link's token is made when the email is sent and never stored. Reset requests are
    also what the rate limits count. Finished rows are deleted after a day; the audit
    trail keeps who was sent a link.
    """

    class Kind(models.TextChoices):
        RESET = "reset", "Password reset"
        INVITATION = "invitation", "Invitation"

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting to be sent"
        SENT = "sent", "Sent"
        NO_ACCOUNT = "no_account", "No account has this address"
        FAILED = "failed", "Could not be sent"

    kind = models.CharField(max_length=12, choices=Kind.choices)
    email = models.EmailField(max_length=254)  # as typed in (lower case) or imported
    user = models.ForeignKey(User, null=True, blank=True, on_delete=models.CASCADE,
                             related_name="+")  # an invitation's person; resets find theirs
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    requested_at = models.DateTimeField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    next_attempt_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["next_attempt_at"], name="password_email_due",
                         condition=models.Q(status="pending")),
            models.Index(fields=["email", "requested_at"], name="password_email_by_address"),
            models.Index(fields=["client_ip", "requested_at"], name="password_email_by_client"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} for {self.email} ({self.status})"
