from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.db import models


class AuditEvent(models.Model):
    """One entry of the append-only, hash-chained audit trail (ORG-05).

    Events are spread over a fixed number of chains (by the record they are
    about) so that writers to different records do not queue on one lock. In
    each chain, event ``seq`` n carries the hash of event n-1; the chain head
    remembers the last seq and hash, so a deleted tail is found too.
    """

    chain = models.PositiveSmallIntegerField()
    seq = models.PositiveBigIntegerField()
    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
        related_name="+",
    )
    actor_label = models.CharField(max_length=150)
    action = models.CharField(max_length=80)
    object_type = models.CharField(max_length=60)
    object_id = models.CharField(max_length=64, blank=True)
    summary = models.CharField(max_length=300, blank=True)
    changes = models.JSONField(default=dict, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    # ORG-03: whose trail it is, so each organisation's readers see only their own. A
    # plain id: the audit trail sits below the app that defines organisations.
    organisation_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["chain", "seq"], name="audit_chain_seq_unique"),
        ]
        indexes = [
            models.Index(fields=["object_type", "object_id"], name="audit_object_idx"),
            models.Index(fields=["at"], name="audit_at_idx"),
        ]

    def __str__(self):
        return f"#{self.pk} {self.action} {self.object_type}:{self.object_id}"


class AuditChainHead(models.Model):
    chain = models.PositiveSmallIntegerField(primary_key=True)
    seq = models.PositiveBigIntegerField(default=0)
    hash = models.CharField(max_length=64)

    def __str__(self):
        return f"chain {self.chain} at {self.seq}"


class LineManager(models.Manager):
    def get_queryset(self):
        # A line's position, if it still has one, comes with it (MOV-05).
        return super().get_queryset().select_related("position")


class TimelineLine(models.Model):
    """What every line of a chained timeline holds (ORG-05, ``lonewatch.core.timeline``).
    An app's line model adds the foreign key to its record (never cascaded: a record
    with a timeline is deleted only by retention) and the (record, seq) constraint. A
    location sent with a line is a ``Position`` beside it (``related_name="position"``),
    outside the chain (MOV-05)."""

    seq = models.PositiveIntegerField()
    at = models.DateTimeField()
    kind = models.CharField(max_length=30)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                              on_delete=models.PROTECT, related_name="+")
    summary = models.CharField(max_length=300)
    data = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    objects = LineManager()

    class Meta:
        abstract = True
        ordering = ["at", "id"]

    @property
    def place(self) -> "Position | None":
        """Where the worker was at this line, while it is kept; else None."""
        try:
            return self.position
        except ObjectDoesNotExist:
            return None

    @property
    def lat(self) -> float | None:
        return self.place.lat if self.place else None

    @property
    def lon(self) -> float | None:
        return self.place.lon if self.place else None

    @property
    def accuracy_m(self) -> float | None:
        return self.place.accuracy_m if self.place else None


class Position(models.Model):
    """Where the worker's phone was at a line of a timeline. An app's position model
    adds ``event``, the one-to-one key to its line (``related_name="position"``) that is
    also its primary key: one index to write."""

    lat = models.FloatField()
    lon = models.FloatField()
    accuracy_m = models.FloatField(null=True, blank=True)

    class Meta:
        abstract = True

    def __str__(self):
        return f"{self.lat:.5f}, {self.lon:.5f}"
