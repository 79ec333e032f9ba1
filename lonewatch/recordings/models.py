"""Recordings as evidence: how long each is kept, what holds it, and what was destroyed
(REC-01, REC-02, REC-03).

The audio itself is the alarm's (``alarms.AudioChunk``, each chunk a file encrypted in
the recordings store). A ``Recording`` is the evidence kept with one alarm: its audio
(an alarm's recording or an amber alert's voice memo), if any, and its position trail.
It says what that evidence is (format, size, checksum, takes), who made it, the rule
that decides how long it is kept and the day it is destroyed (``delete_after``), and,
once destroyed, when and under which rule. It outlives the files: the alarm's record,
its timeline and this row stay.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from lonewatch.alarms.models import Alarm
from lonewatch.org.models import Person


class Recording(models.Model):
    class Rule(models.TextChoices):
        OPEN = "open", "Alarm still open: kept while it is handled"
        AMBER = "amber", "Amber alert"
        AMBER_LINKED = "amber_linked", "Amber alert linked to a genuine red alert that day"
        GENUINE = "genuine", "Genuine red alert"
        FALSE_ALARM = "false_alarm", "False alarm"
        DRILL = "drill", "Drill"
        AWAITING_REVIEW = "awaiting_review", \
            "False alarm flagged as possible duress: kept for the security manager's review"

    alarm = models.OneToOneField(Alarm, on_delete=models.PROTECT, related_name="recording")
    organisation_id = models.BigIntegerField(db_index=True)
    # Who made it: the worker whose phone recorded (the alarm's worker).
    made_by = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+")
    # What it is, as last measured (when the alarm closed, when it was destroyed).
    format = models.CharField(max_length=50, blank=True)
    size = models.PositiveBigIntegerField(default=0)
    chunks = models.PositiveIntegerField(default=0)
    # SHA-256 over the chunks' own SHA-256 digests, in order: one figure for the whole.
    checksum = models.CharField(max_length=64, blank=True)
    # Each take: number, first chunk, chunks, bytes, first and last received, seconds.
    takes = models.JSONField(default=list, blank=True)
    positions = models.PositiveIntegerField(default=0)
    rule = models.CharField(max_length=20, choices=Rule.choices, default=Rule.OPEN)
    # REC-01: a stored, indexed deadline. None: kept (open, or awaiting a review).
    delete_after = models.DateTimeField(null=True, blank=True)
    destroyed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["delete_after"], name="recording_due_idx",
                         condition=Q(destroyed_at__isnull=True, delete_after__isnull=False)),
        ]

    def __str__(self):
        return f"recording of alarm {self.alarm_id}"

    @property
    def destroyed(self) -> bool:
        return self.destroyed_at is not None


class Hold(models.Model):
    """REC-02: a legal hold. While any hold on a recording is in force, it is not
    destroyed, whatever its date says; released, the date applies again."""

    class Reason(models.TextChoices):
        POLICE = "police_request", "Police request"
        COURT = "court_case", "Court case"
        SUBJECT_ACCESS = "subject_access_request", "Subject access request in progress"
        INCIDENT = "incident_investigation", "Incident investigation"
        OTHER = "other", "Other"

    recording = models.ForeignKey(Recording, on_delete=models.PROTECT, related_name="holds")
    reason = models.CharField(max_length=30, choices=Reason.choices)
    detail = models.CharField(max_length=500)
    placed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                  related_name="+")
    placed_at = models.DateTimeField()
    released_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+")
    released_at = models.DateTimeField(null=True, blank=True)
    release_note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-placed_at", "-id"]

    def __str__(self):
        return f"hold on {self.recording}: {self.get_reason_display()}"

    @property
    def in_force(self) -> bool:
        return self.released_at is None


class Destruction(models.Model):
    """REC-02: the destruction log. One row per recording destroyed: what went (files,
    bytes, takes, positions), when, and under which rule and date. Kept: it is the
    trust's record that the evidence was destroyed as the policy says."""

    recording = models.OneToOneField(Recording, on_delete=models.PROTECT,
                                     related_name="destruction")
    organisation_id = models.BigIntegerField(db_index=True)
    alarm_id = models.BigIntegerField()
    destroyed_at = models.DateTimeField()
    rule = models.CharField(max_length=20, choices=Recording.Rule.choices)
    delete_after = models.DateTimeField()
    files = models.PositiveIntegerField()
    bytes = models.PositiveBigIntegerField()
    takes = models.PositiveIntegerField()
    positions = models.PositiveIntegerField()
    checksum = models.CharField(max_length=64, blank=True)
    worker = models.CharField(max_length=200)

    class Meta:
        ordering = ["-destroyed_at", "-id"]

    def __str__(self):
        return f"alarm {self.alarm_id}: destroyed {self.destroyed_at:%Y-%m-%d %H:%M}"


class Review(models.Model):
    """REC-04, ALM-05: an alarm the security manager must review. A genuine alarm closed
    safely without the police, and a false alarm the operator flagged as possible
    duress (whose recording is kept until the review is recorded), enter the queue."""

    class Reason(models.TextChoices):
        CLOSED_SAFELY = "closed_safely", "Genuine alarm closed safely without the police"
        POSSIBLE_DURESS = "possible_duress", "False alarm flagged as possible duress"

    class Decision(models.TextChoices):
        # REC-04: one of these for a genuine alarm closed safely.
        SANCTION_LETTER = "sanction_letter", "Sanction letter"
        POLICE_REFERRAL = "police_referral", "Referral to the police"
        PRIVATE_PROSECUTION = "private_prosecution", \
            "Referral for private prosecution or civil action"
        NOTIFICATION_LETTER = "notification_letter", "Notification letter"
        CLINICAL_EXEMPTION = "clinical_exemption", \
            "Clinical exemption (agreed by an independent senior clinician)"
        # ALM-05: for a false alarm flagged as possible duress.
        CONFIRMED_FALSE = "confirmed_false_alarm", "Confirmed a false alarm"
        RECATEGORISED = "recategorised_genuine", "Re-categorised as genuine (duress)"

    alarm = models.OneToOneField(Alarm, on_delete=models.PROTECT, related_name="review")
    organisation_id = models.BigIntegerField(db_index=True)
    reason = models.CharField(max_length=20, choices=Reason.choices)
    opened_at = models.DateTimeField()
    # Reviews not recorded by then are highlighted and the security manager reminded.
    due_at = models.DateTimeField()
    reminded_at = models.DateTimeField(null=True, blank=True)
    decision = models.CharField(max_length=30, choices=Decision.choices, blank=True)
    note = models.TextField(blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    # REC-04: a clinical exemption needs an independent senior clinician's agreement,
    # recorded by them from their own account, with their reason, for this case.
    exemption_agreed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                            on_delete=models.PROTECT, related_name="+")
    exemption_agreed_at = models.DateTimeField(null=True, blank=True)
    exemption_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["due_at", "id"]
        indexes = [
            models.Index(fields=["due_at"], name="review_reminder_idx",
                         condition=Q(decided_at__isnull=True)),
        ]

    def __str__(self):
        return f"review of alarm {self.alarm_id}"

    @property
    def open(self) -> bool:
        return self.decided_at is None

    @property
    def decisions(self) -> list[str]:
        """The decisions this review may record."""
        if self.reason == self.Reason.POSSIBLE_DURESS:
            return [self.Decision.CONFIRMED_FALSE, self.Decision.RECATEGORISED]
        return [self.Decision.SANCTION_LETTER, self.Decision.POLICE_REFERRAL,
                self.Decision.PRIVATE_PROSECUTION, self.Decision.NOTIFICATION_LETTER,
                self.Decision.CLINICAL_EXEMPTION]


class AccessRequest(models.Model):
    """REC-03: the police ask for a recording. The request records the officer, their
    force, the crime reference and the reason; the security manager approves it (or
    refuses it), and an approved request gives a link that works until it expires or is
    used up. The officer needs no Lonewatch account: the link is the credential, and
    only its SHA-256 is kept."""

    class State(models.TextChoices):
        WAITING = "waiting", "Waiting for the security manager"
        APPROVED = "approved", "Approved: link issued"
        REFUSED = "refused", "Refused"
        REVOKED = "revoked", "Link withdrawn"

    recording = models.ForeignKey(Recording, on_delete=models.PROTECT,
                                  related_name="access_requests")
    officer = models.CharField(max_length=200)  # name, rank and collar number
    force = models.CharField(max_length=200)
    crime_reference = models.CharField(max_length=100)
    reason = models.TextField()
    officer_email = models.EmailField(blank=True)
    entered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                   related_name="+")
    entered_at = models.DateTimeField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.WAITING)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.CharField(max_length=500, blank=True)
    link_digest = models.CharField(max_length=64, blank=True, db_index=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    uses_allowed = models.PositiveSmallIntegerField(default=0)
    uses = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["-entered_at", "-id"]

    def __str__(self):
        return f"access request {self.crime_reference} for {self.recording}"


class SubjectAccessRequest(models.Model):
    """REC-06: a subject access request for a recording, logged with its statutory due
    date (one calendar month from receipt) and its outcome. While it is open, a legal
    hold keeps the recording."""

    class Outcome(models.TextChoices):
        PROVIDED = "provided", "Provided in full"
        PARTLY = "partly_provided", "Provided in part (others' data withheld)"
        REFUSED = "refused", "Refused under an exemption"
        WITHDRAWN = "withdrawn", "Withdrawn by the requester"

    recording = models.ForeignKey(Recording, on_delete=models.PROTECT,
                                  related_name="subject_access_requests")
    requester = models.CharField(max_length=200)
    received_on = models.DateField()
    due_on = models.DateField()
    logged_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                  related_name="+")
    logged_at = models.DateTimeField()
    hold = models.OneToOneField(Hold, null=True, blank=True, on_delete=models.PROTECT,
                                related_name="subject_access_request")
    reminded_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=20, choices=Outcome.choices, blank=True)
    outcome_note = models.TextField(blank=True)
    closed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                  on_delete=models.PROTECT, related_name="+")
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_on", "id"]
        indexes = [models.Index(fields=["due_on"], name="sar_due_idx",
                                condition=Q(closed_at__isnull=True))]

    def __str__(self):
        return f"subject access request of {self.requester}"

    @property
    def open(self) -> bool:
        return self.closed_at is None
