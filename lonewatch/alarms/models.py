"""Amber and red alerts and the alarm centre's handling of them (ALM-01 … ALM-06)."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from lonewatch.core.models import Position, TimelineLine
from lonewatch.org.models import Organisation, Person
from lonewatch.visits.models import Session


class Alarm(models.Model):
    class Kind(models.TextChoices):
        AMBER = "amber", "Amber alert"
        RED = "red", "Red alert"

    class State(models.TextChoices):
        LOGGED = "logged", "Logged (amber)"
        RAISED = "raised", "Raised: waiting for an operator"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        ASSESSING = "assessing", "Assessing"
        ESCALATED = "escalated", "Escalated"
        CLOSED = "closed", "Closed"

    class Category(models.TextChoices):
        GENUINE = "genuine", "Genuine"
        GENUINE_SAFE = "genuine_closed_safely", "Genuine, closed safely"
        FALSE = "false_alarm", "False alarm"

    class Source(models.TextChoices):
        APP = "app", "Worker's phone"
        DISCREET = "discreet", "Discreet trigger"
        DURESS = "duress", "Duress PIN"
        DEVICE = "device", "External device"
        ESCALATION = "escalation", "Missed check-in escalation"

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    worker = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="alarms")
    session = models.ForeignKey(Session, null=True, blank=True, on_delete=models.PROTECT,
                                related_name="alarms")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    state = models.CharField(max_length=20, choices=State.choices)
    source = models.CharField(max_length=20, choices=Source.choices, default=Source.APP)
    drill = models.BooleanField(default=False)
    message = models.CharField(max_length=500, blank=True)
    raised_at = models.DateTimeField()
    lat = models.FloatField(null=True, blank=True)
    lon = models.FloatField(null=True, blank=True)
    accuracy_m = models.FloatField(null=True, blank=True)
    location_at = models.DateTimeField(null=True, blank=True)
    # The worker may cancel a red alert with their PIN until then (MOV-04: a duress PIN
    # answers the same and keeps the alarm alive, silently).
    cancel_until = models.DateTimeField(null=True, blank=True)
    # ALM-04: a stored deadline; until an operator acknowledges, everyone is re-alerted.
    next_realert_at = models.DateTimeField(null=True, blank=True)
    realerts = models.PositiveSmallIntegerField(default=0)
    acknowledged_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                        on_delete=models.PROTECT, related_name="+")
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    escalated_to = models.CharField(max_length=100, blank=True)
    emergency_reference = models.CharField(max_length=100, blank=True)
    closed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                  on_delete=models.PROTECT, related_name="+")
    closed_at = models.DateTimeField(null=True, blank=True)
    category = models.CharField(max_length=30, choices=Category.choices, blank=True)
    worker_agreed = models.BooleanField(null=True, blank=True)
    duress_suspected = models.BooleanField(default=False)
    # MOV-04: what the worker's own account may read of this alarm. A silent alarm from
    # the duress PIN at check-out is not theirs to see at all; once their phone has been
    # told the alarm is over (a cancel, with either PIN), they see it as that moment left
    # it, whatever the alarm centre does next (see ``worker_view``).
    hidden_from_worker = models.BooleanField(default=False)
    worker_view = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["-raised_at"]
        indexes = [
            models.Index(fields=["next_realert_at"], name="alarm_realert_idx",
                         condition=Q(next_realert_at__isnull=False)),
            models.Index(fields=["state", "raised_at"], name="alarm_state_idx"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} from {self.worker}"

    @property
    def is_open(self) -> bool:
        return self.state not in (self.State.CLOSED, self.State.LOGGED)

    @property
    def open_for_worker(self) -> bool:
        """Open as the worker's phone knows it: a cancel ends it, whichever PIN was used."""
        return self.worker_view is None and self.is_open


class AlarmEvent(TimelineLine):
    """One line of an alarm's timeline: every transition with who, when and a note.

    Append-only and hash-chained per alarm (ORG-05): the database refuses UPDATE and
    DELETE, and line ``seq`` n carries the hash of line n-1. Every line is written
    through ``lonewatch.alarms.timeline``. A location sent with a line is an
    ``AlarmPosition`` of its own, outside the chain (MOV-05)."""

    # An alarm with a timeline is never deleted by a cascade (docs/audit.md). Its lines are
    # found by the (alarm, seq) index.
    alarm = models.ForeignKey(Alarm, on_delete=models.PROTECT, related_name="events",
                              db_index=False)

    class Meta(TimelineLine.Meta):
        constraints = [
            models.UniqueConstraint(fields=["alarm", "seq"], name="alarm_event_seq_unique"),
        ]

    def __str__(self):
        return self.summary


class AlarmPosition(Position):
    """Where the worker's phone was at a line of the alarm's timeline (ALM-02, MOV-05):
    the alarm's trail, kept with the alarm. Outside the hash chain, like a session's
    positions."""

    event = models.OneToOneField(AlarmEvent, primary_key=True, on_delete=models.CASCADE,
                                 related_name="position")


class OperatorDuty(models.Model):
    """An alarm-centre operator's time on duty; re-alerts go to whoever is on duty."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="duties")
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["person"], condition=Q(ended_at__isnull=True),
                                    name="one_open_duty_per_operator"),
        ]

    def __str__(self):
        return f"{self.person} on duty"


class AudioChunk(models.Model):
    """One piece of the audio a worker's phone streams during a red alert (ALM-02).

    Chunks may arrive late, out of order or twice; the recording is the chunks in
    sequence order, and a chunk received again with the same content changes nothing.
    A chunk that begins with its container's header starts a fresh recording, a take:
    the phone's page was reloaded, or a device restarted its recorder, and went on
    numbering where it was. Each take plays on its own (a second header partway
    through a file stops the browser's player there).
    """

    alarm = models.ForeignKey(Alarm, on_delete=models.CASCADE, related_name="audio_chunks")
    seq = models.PositiveIntegerField()
    content_type = models.CharField(max_length=50)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    received_at = models.DateTimeField()
    starts_take = models.BooleanField(default=False)
    # Its name in the recordings store (``lonewatch.core.vault``), encrypted.
    file = models.CharField(max_length=200)

    class Meta:
        ordering = ["seq"]
        constraints = [
            models.UniqueConstraint(fields=["alarm", "seq"], name="one_chunk_per_sequence"),
        ]

    def __str__(self):
        return f"chunk {self.seq} of alarm {self.alarm_id}"
