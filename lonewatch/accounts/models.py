import hashlib
import secrets

from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """The login. Who the person is (name, team, roles) lives on ``org.Person``."""

    class Meta:
        db_table = "accounts_user"


TOKEN_PREFIX = "lw_"  # noqa: S105 - a marker, not a secret


def digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiToken(models.Model):
    """A per-device API token. Only its SHA-256 is stored; the token is shown once."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12)
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @property
    def active(self):
        return self.revoked_at is None

    @staticmethod
    def generate() -> str:
        return TOKEN_PREFIX + secrets.token_urlsafe(32)


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
