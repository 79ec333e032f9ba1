"""The organisation: a trust, its directorates and teams, and its people (ORG-01)."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from lonewatch.org.roles import Role, Scope


class Organisation(models.Model):
    name = models.CharField(max_length=200, unique=True)
    short_name = models.CharField(max_length=40, blank=True)

    def __str__(self):
        return self.name


class Directorate(models.Model):
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="directorates"
    )
    name = models.CharField(max_length=200)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "name"], name="directorate_name_unique")
        ]

    def __str__(self):
        return self.name


class Team(models.Model):
    directorate = models.ForeignKey(Directorate, on_delete=models.PROTECT, related_name="teams")
    name = models.CharField(max_length=200)
    # MOV-01: how long after a planned visit's start, not started, the buddy is told.
    no_show_grace_minutes = models.PositiveSmallIntegerField(default=15)
    # PRE-05: the team's emergency equipment, one item a line; the team manager keeps it
    # and a worker confirms it before a visit.
    emergency_equipment = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["directorate", "name"], name="team_name_unique")
        ]

    def __str__(self):
        return self.name

    @property
    def equipment(self) -> list[str]:
        return [line.strip() for line in self.emergency_equipment.splitlines() if line.strip()]


class Person(models.Model):
    """A member of staff. Their login is ``user``; everything else about them is here."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="person"
    )
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="people")
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.PROTECT, related_name="members"
    )
    full_name = models.CharField(max_length=200)
    job_title = models.CharField(max_length=200, blank=True)
    email = models.EmailField(blank=True)
    mobile = models.CharField(max_length=20, blank=True, help_text="E.164, e.g. +447700900123")
    # ORG-03: held for the buddy and escalation points, shown to them only while needed.
    vehicle_description = models.CharField(max_length=200, blank=True)
    # ALM-02, ESC-04: how to recognise them, in words (no photograph is held).
    description = models.CharField(max_length=300, blank=True)
    known_breaks = models.TextField(blank=True)
    line_manager = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="direct_reports"
    )
    # BUD-01: the usual buddy; a nomination counts once the buddy has accepted it.
    buddy = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="buddy_for"
    )
    buddy_accepted_at = models.DateTimeField(null=True, blank=True)
    # ORG-04: occupational health's mark; such a person cannot start a session.
    unable_to_work_alone = models.BooleanField(default=False)
    unable_to_work_alone_review = models.DateField(null=True, blank=True)
    # The review date occupational health was last reminded of (the reminder is a row
    # the worker scans: a review date reached and not yet reminded).
    unable_to_work_alone_reminded = models.DateField(null=True, blank=True)
    # MOV-05: location is kept only for a worker who has recorded consent.
    location_consent_at = models.DateTimeField(null=True, blank=True)
    # Check-out PIN, hashed like a password (MOV-02).
    pin_hash = models.CharField(max_length=200, blank=True)
    # MOV-04: entered instead of the PIN, it answers as normal and raises a silent alarm.
    duress_pin_hash = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["full_name"]
        verbose_name_plural = "people"
        indexes = [models.Index(fields=["unable_to_work_alone_review"],
                                name="person_fitness_review_idx",
                                condition=Q(unable_to_work_alone=True))]

    def __str__(self):
        return self.full_name

    @property
    def directorate_id(self):
        return self.team.directorate_id if self.team_id else None

    @property
    def username(self):
        return self.user.get_username()


class NextOfKin(models.Model):
    """Sensitive (ORG-03, ORG-05): every read is audited."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="next_of_kin")
    name = models.CharField(max_length=200)
    relationship = models.CharField(max_length=100)
    phone = models.CharField(max_length=20)
    notes = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "next of kin"

    def __str__(self):
        return f"{self.name} ({self.relationship})"


class RoleMembership(models.Model):
    """A role a person holds, and how far it reaches (ORG-02)."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="roles")
    role = models.CharField(max_length=40, choices=Role.choices)
    scope = models.CharField(max_length=20, choices=Scope.choices)
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.CASCADE)
    directorate = models.ForeignKey(Directorate, null=True, blank=True, on_delete=models.CASCADE)

    class Meta:
        constraints = [
            models.CheckConstraint(
                name="role_scope_target",
                condition=(
                    Q(scope="team", team__isnull=False, directorate__isnull=True)
                    | Q(scope="directorate", team__isnull=True, directorate__isnull=False)
                    | Q(scope__in=["own", "organisation"], team__isnull=True,
                        directorate__isnull=True)
                ),
            ),
        ]

    def __str__(self):
        return f"{self.get_role_display()} ({self.scope_label})"

    @property
    def scope_id(self):
        return {Scope.TEAM: self.team_id, Scope.DIRECTORATE: self.directorate_id}.get(self.scope)

    @property
    def scope_label(self):
        if self.scope == Scope.TEAM:
            return f"team: {self.team}"
        if self.scope == Scope.DIRECTORATE:
            return f"directorate: {self.directorate}"
        return self.get_scope_display().lower()


class Absence(models.Model):
    """Leave, sickness or off duty: a buddy who is absent cannot watch a session (BUD-02)."""

    class Reason(models.TextChoices):
        LEAVE = "leave", "On leave"
        SICK = "sick", "Off sick"
        OFF_DUTY = "off_duty", "Off duty"

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="absences")
    reason = models.CharField(max_length=20, choices=Reason.choices)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["person", "ends_at"], name="absence_person_end_idx")]
        constraints = [
            models.CheckConstraint(name="absence_ends_after_start",
                                   condition=Q(ends_at__gt=models.F("starts_at"))),
        ]

    def __str__(self):
        return f"{self.person}: {self.get_reason_display()}"


class PinFailure(models.Model):
    """A wrong PIN, at check-out or when cancelling an alarm (Q-SEC). Five in a quarter
    of an hour lock both for the worker: one lockout, wherever the guesses were made."""

    class Attempt(models.TextChoices):
        CHECK_OUT = "check_out", "Check-out"
        ALARM_CANCEL = "alarm_cancel", "Cancelling an alarm"

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="pin_failures")
    at = models.DateTimeField()
    attempt = models.CharField(max_length=20, choices=Attempt.choices)

    class Meta:
        indexes = [models.Index(fields=["person", "at"], name="pin_failure_person_idx")]

    def __str__(self):
        return f"{self.person}: wrong PIN ({self.get_attempt_display().lower()})"
