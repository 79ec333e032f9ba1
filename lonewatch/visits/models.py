"""Lone-working sessions and their timeline (MOV-01, MOV-02, MOV-05)."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from lonewatch.core.models import Position, TimelineLine
from lonewatch.org.models import Person


class Venue(models.TextChoices):
    """PRE-04: where a visit happens. A high-risk visit may go ahead alone at a neutral
    or secure place."""

    HOME = "home", "At the person's home or the address given"
    NEUTRAL = "neutral", "A neutral location"
    SECURE = "secure", "A secure location (a clinic or a base)"


class Companion(models.TextChoices):
    """PRE-04: who goes along on a visit that must not be made alone."""

    COLLEAGUE = "colleague", "A colleague"
    SECURITY = "security", "A security officer"
    POLICE = "police", "The police"


class Session(models.Model):
    """A visit, a shift alone or a journey. The server holds its deadline in ``due_at``."""

    class Kind(models.TextChoices):
        VISIT = "visit", "Home visit"
        SHIFT = "shift", "Shift alone"
        JOURNEY = "journey", "Journey"

    class State(models.TextChoices):
        ACTIVE = "active", "Active"
        OVERDUE = "overdue", "Overdue: escalating"
        ENDED = "ended", "Ended"

    class Travel(models.TextChoices):
        CAR = "car", "Car"
        WALKING = "walking", "Walking"
        PUBLIC = "public", "Public transport"
        BICYCLE = "bicycle", "Bicycle"
        OTHER = "other", "Other"

    worker = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="sessions")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    address = models.CharField(max_length=300)
    postcode = models.CharField(max_length=10, blank=True)
    place_lat = models.FloatField(null=True, blank=True)
    place_lon = models.FloatField(null=True, blank=True)
    service_user_ref = models.CharField(max_length=60, blank=True)
    planned_start = models.DateTimeField()
    planned_end = models.DateTimeField()
    travel_mode = models.CharField(max_length=20, choices=Travel.choices, default=Travel.CAR)
    vehicle = models.CharField(max_length=200, blank=True)
    buddy = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+")
    cover_buddy = models.ForeignKey(Person, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    interval_seconds = models.PositiveIntegerField()
    state = models.CharField(max_length=20, choices=State.choices, default=State.ACTIVE)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    # Deadlines: each a stored, indexed column a worker scans (never a timer in memory).
    due_at = models.DateTimeField(null=True, blank=True)
    remind_at = models.DateTimeField(null=True, blank=True)
    end_remind_at = models.DateTimeField(null=True, blank=True)
    # ESC-04: an ended session whose location is kept for the police until then (the
    # escalation was resolved as "police involved" or "worker hurt"); a stored deadline.
    keep_location_until = models.DateTimeField(null=True, blank=True)
    last_contact_at = models.DateTimeField()
    last_lat = models.FloatField(null=True, blank=True)
    last_lon = models.FloatField(null=True, blank=True)
    last_accuracy_m = models.FloatField(null=True, blank=True)
    last_location_at = models.DateTimeField(null=True, blank=True)
    # PRE-04: who the visit is to, where, and who goes along.
    nhs_number = models.CharField(max_length=10, blank=True)
    venue = models.CharField(max_length=10, choices=Venue.choices, default=Venue.HOME)
    companion = models.CharField(max_length=10, choices=Companion.choices, blank=True)
    companion_name = models.CharField(max_length=200, blank=True)
    risk = models.CharField(max_length=4, default="low")  # low or high, at the start
    # PRE-06: when the worker said they were withdrawing.
    withdrew_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [
            models.Index(fields=["due_at"], name="session_due_active_idx",
                         condition=Q(state="active")),
            models.Index(fields=["remind_at"], name="session_remind_idx",
                         condition=Q(remind_at__isnull=False)),
            models.Index(fields=["end_remind_at"], name="session_end_remind_idx",
                         condition=Q(end_remind_at__isnull=False)),
            models.Index(fields=["keep_location_until"], name="session_keep_location_idx",
                         condition=Q(keep_location_until__isnull=False)),
            models.Index(fields=["worker", "state"], name="session_worker_state_idx"),
            models.Index(fields=["buddy", "state"], name="session_buddy_state_idx"),
            # PRE-04: a place's history (withdrawals and alarms there) by its postcode.
            models.Index(fields=["postcode", "started_at"], name="session_place_idx"),
            # RSK-05: the dashboard's high-risk visits of the last 90 days.
            models.Index(fields=["started_at"], name="session_high_risk_idx",
                         condition=Q(risk="high")),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} by {self.worker} at {self.address}"

    @property
    def watching_buddy(self) -> Person:
        return self.cover_buddy or self.buddy

    @property
    def is_open(self) -> bool:
        return self.state != self.State.ENDED


class SessionEvent(TimelineLine):
    """One line of a session's timeline: check-ins, extensions, reminders, every
    escalation step, delivery and action.

    Append-only and hash-chained per session (ORG-05): the database refuses UPDATE and
    DELETE, and line ``seq`` n carries the hash of line n-1. Every line is written
    through ``lonewatch.visits.timeline``. Where the worker was is not on the line but
    in a ``SessionPosition`` of its own, which is deleted when the session ends (MOV-05)
    while the line stays."""

    class Kind(models.TextChoices):
        STARTED = "started", "Session started"
        CHECKED_IN = "checked_in", "Checked in"
        EXTENDED = "extended", "Running late"
        ENDED = "ended", "Session ended"
        REMINDER = "reminder", "Reminder sent"
        DEADLINE_MISSED = "deadline_missed", "Check-in missed"
        STEP_FIRED = "step_fired", "Escalation step"
        DELIVERY = "delivery", "Message delivered"
        DELIVERY_FAILED = "delivery_failed", "Message failed"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        RESOLVED = "resolved", "Resolved"
        WATCHDOG = "watchdog", "Watchdog"
        LOCATION = "location", "Location"
        PIN_FAILED = "pin_failed", "Wrong check-out PIN"
        FLAG = "flag", "Warning sign"
        WITHDRAWING = "withdrawing", "Withdrawing now"
        POSITIONS_PURGED = "positions_purged", "Locations deleted"

    # Lines about messages (to the worker or to others): see ``visits.access.timeline``.
    MESSAGE_KINDS = (Kind.DELIVERY, Kind.DELIVERY_FAILED)

    # A session with a timeline is never deleted by a cascade: only retention may, through
    # the timeline's purge (docs/audit.md). Its lines are found by the (session, seq)
    # index: one index fewer to write on every line.
    session = models.ForeignKey(Session, on_delete=models.PROTECT, related_name="events",
                                db_index=False)
    kind = models.CharField(max_length=30, choices=Kind.choices)

    class Meta(TimelineLine.Meta):
        constraints = [
            models.UniqueConstraint(fields=["session", "seq"], name="session_event_seq_unique"),
        ]

    def __str__(self):
        return f"{self.at:%H:%M:%S} {self.summary}"


class SessionPosition(Position):
    """Where the worker was at a line of the session's timeline, and so when (MOV-05):
    kept only while the session is active, deleted when it ends. Not part of the hash
    chain, so deleting it leaves the timeline whole; the deletion itself is a line. Keyed
    by its line: one index to write on the check-in path."""

    event = models.OneToOneField(SessionEvent, primary_key=True, on_delete=models.CASCADE,
                                 related_name="position")


class PlannedVisit(models.Model):
    """MOV-01: a visit a worker plans ahead. Starting it makes the session. A visit not
    started by its planned start prompts the worker; not started by the team's grace
    after it, it tells the buddy (a no-show). Both are stored deadlines the worker scans."""

    class State(models.TextChoices):
        PLANNED = "planned", "Planned"
        STARTED = "started", "Started"
        CANCELLED = "cancelled", "Cancelled"
        MISSED = "missed", "Not started: buddy told"

    worker = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="planned_visits")
    buddy = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+")
    address = models.CharField(max_length=300)
    postcode = models.CharField(max_length=10, blank=True)
    service_user_ref = models.CharField(max_length=60, blank=True)
    nhs_number = models.CharField(max_length=10, blank=True)
    planned_start = models.DateTimeField()
    planned_end = models.DateTimeField()
    travel_mode = models.CharField(max_length=20, choices=Session.Travel.choices,
                                   default=Session.Travel.CAR)
    venue = models.CharField(max_length=10, choices=Venue.choices, default=Venue.HOME)
    companion = models.CharField(max_length=10, choices=Companion.choices, blank=True)
    companion_name = models.CharField(max_length=200, blank=True)
    risk = models.CharField(max_length=4, default="low")  # at planning or the last move
    # PRE-04: a manager's exception letting a high-risk visit go ahead alone.
    exception_reason = models.TextField(blank=True)
    exception_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                     on_delete=models.PROTECT, related_name="+")
    exception_at = models.DateTimeField(null=True, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PLANNED)
    session = models.OneToOneField(Session, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="planned_visit")
    created_at = models.DateTimeField()
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(max_length=300, blank=True)
    # PRE-05: when the worker confirmed the briefing and the emergency equipment.
    briefed_at = models.DateTimeField(null=True, blank=True)
    # Deadlines, each cleared when done: prompt the worker, then tell the buddy.
    prompt_at = models.DateTimeField(null=True, blank=True)
    no_show_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["planned_start", "id"]
        indexes = [
            models.Index(fields=["prompt_at"], name="visit_prompt_idx",
                         condition=Q(prompt_at__isnull=False)),
            models.Index(fields=["no_show_at"], name="visit_no_show_idx",
                         condition=Q(no_show_at__isnull=False)),
            models.Index(fields=["worker", "planned_start"], name="visit_worker_start_idx"),
            models.Index(fields=["buddy", "planned_start"], name="visit_buddy_start_idx"),
        ]

    def __str__(self):
        return f"Visit by {self.worker} at {self.address}"

    @property
    def is_open(self) -> bool:
        return self.state == self.State.PLANNED

    @property
    def may_go_alone(self) -> bool:
        """PRE-04: low risk, or a way out recorded: company, a neutral or secure venue, or
        a manager's exception. (Starting checks again, with the markers as they are.)"""
        return self.risk != "high" or bool(self.companion) or self.venue != Venue.HOME or \
            self.exception_at is not None


class Flag(models.Model):
    """PRE-06: a warning sign the worker noted during a visit, when. Where is on the
    session's timeline, kept only while the session runs (MOV-05)."""

    class Sign(models.TextChoices):
        ALCOHOL = "alcohol", "Alcohol"
        DRUGS = "drugs", "Drugs"
        CONFUSION = "confusion", "Confusion"
        AGGRESSION = "aggression", "Aggression"
        ANIMALS = "animals", "Animals"
        OTHERS_PRESENT = "others_present", "Others present"
        WEAPON = "weapon", "Weapon seen"

    session = models.ForeignKey(Session, on_delete=models.PROTECT, related_name="flags")
    sign = models.CharField(max_length=20, choices=Sign.choices)
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "id"]

    def __str__(self):
        return self.get_sign_display()


class IncidentPrompt(models.Model):
    """PRE-06: after "withdrawing now", once the worker is safe (their next check-in or
    the end of the session), they are asked to report the incident. The incident form
    comes later; the prompt and the facts are kept for it."""

    session = models.OneToOneField(Session, on_delete=models.PROTECT,
                                   related_name="incident_prompt")
    worker = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+")
    withdrew_at = models.DateTimeField()
    facts = models.JSONField(default=dict)  # place, warning signs, times
    safe_at = models.DateTimeField(null=True, blank=True)
    reported_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-withdrew_at"]

    def __str__(self):
        return f"Incident report asked of {self.worker}"
