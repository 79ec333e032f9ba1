"""One row per message per recipient per channel, sent after commit and retried
until delivered or failed for good (at-least-once)."""

import uuid

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q

from lonewatch.org.models import Organisation, Person


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "Text message"
    WEBHOOK = "webhook", "Webhook"
    PUSH = "push", "Phone notification"
    IN_APP = "in_app", "In Lonewatch"


class Delivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Waiting to send"
        SENT = "sent", "Sent"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    # What the message is about, as a plain reference ("escalation", 42): notify knows
    # people and channels, not the records of the apps above it. The app that owns the
    # kind shows the outcome on its record's timeline (``notify.hooks``).
    about_kind = models.CharField(max_length=30, blank=True)
    about_id = models.BigIntegerField(null=True, blank=True)
    recipient = models.ForeignKey(Person, null=True, blank=True, on_delete=models.CASCADE,
                                  related_name="deliveries")
    channel = models.CharField(max_length=20, choices=Channel.choices)
    address = models.CharField(max_length=500, blank=True)
    subject = models.CharField(max_length=200)
    body = models.TextField()
    link = models.CharField(max_length=500, blank=True)
    purpose = models.CharField(max_length=40)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    # While pending: when to try next. A claimed row has it pushed forward by the lease,
    # the last resort if its holder is alive but stuck.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # ESC-03: the worker sending it (its heartbeat's name) and since when, only while it
    # is being sent. If that worker's heartbeat goes silent, another takes it back at once.
    claimed_by = models.CharField(max_length=200, null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    idempotency_key = models.UUIDField(default=uuid.uuid4, unique=True)
    created_at = models.DateTimeField()
    due_at = models.DateTimeField(help_text="when it should have gone at the latest")
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    provider_ref = models.CharField(max_length=200, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    # Webhooks only: the facts a receiving system reads, sent in the body beside the
    # message (ALM-07: the alarm and what happened to it).
    payload = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)

    class Meta:
        verbose_name_plural = "deliveries"
        indexes = [
            models.Index(fields=["next_attempt_at"], name="delivery_due_idx",
                         condition=Q(status="pending")),
            models.Index(fields=["recipient", "channel", "read_at"], name="delivery_inbox_idx"),
            models.Index(fields=["about_kind", "about_id"], name="delivery_about_idx"),
            models.Index(fields=["claimed_by"], name="delivery_claimed_idx",
                         condition=Q(claimed_by__isnull=False)),
        ]

    def __str__(self):
        return f"{self.channel} to {self.recipient or self.address}: {self.subject}"


class WebhookEndpoint(models.Model):
    """A signed JSON POST target (Teams, Slack, an external alarm centre)."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE,
                                     related_name="webhooks")
    name = models.CharField(max_length=100)
    url = models.URLField(max_length=500)
    secret = models.CharField(max_length=100)
    active = models.BooleanField(default=True)

    def __str__(self):
        return self.name


class PushSubscription(models.Model):
    """A browser's web-push endpoint on a worker's or buddy's phone."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="push_subscriptions")
    endpoint = models.URLField(max_length=1000, unique=True)
    p256dh = models.CharField(max_length=200)
    auth = models.CharField(max_length=100)
    user_agent = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField()
    last_success_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"push for {self.person}"


class ChannelProof(models.Model):
    """A person confirmed that a test message on this channel, to this address, reached
    them. An alert "sent" to a mistyped number reaches nobody; this is how we know."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="channel_proofs")
    channel = models.CharField(max_length=20, choices=Channel.choices)
    address = models.CharField(max_length=500, blank=True)
    confirmed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["person", "channel", "address"],
                                    name="one_proof_per_channel_address"),
        ]

    def __str__(self):
        return f"{self.person}: {self.channel} {self.address}"
