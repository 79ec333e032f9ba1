"""Escalation policies and running escalations (ESC-01 … ESC-03)."""


from django.conf import settings
from django.db import models
from django.db.models import Q

from lonewatch.org.models import Organisation, Team
from lonewatch.visits.models import Session


class Target(models.TextChoices):
    WORKER = "worker", "The worker"
    BUDDY = "buddy", "The buddy"
    LINE_MANAGER = "line_manager", "Line manager"
    SENIOR_MANAGER = "senior_manager", "Senior manager"
    ALARM_CENTRE = "alarm_centre", "Alarm centre"
    POLICE_ADVICE = "police_advice", "Advise calling the police"


class EscalationPolicy(models.Model):
    """A team's ordered steps; a policy with no team is the organisation's default."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE,
                                     related_name="escalation_policies")
    team = models.OneToOneField(Team, null=True, blank=True, on_delete=models.CASCADE,
                                related_name="escalation_policy")
    updated_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "escalation policies"
        constraints = [
            models.UniqueConstraint(fields=["organisation"], condition=Q(team__isnull=True),
                                    name="one_default_policy_per_organisation"),
        ]

    def __str__(self):
        return f"Escalation policy for {self.team or self.organisation}"


class EscalationStep(models.Model):
    policy = models.ForeignKey(EscalationPolicy, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField()
    after_seconds = models.PositiveIntegerField()
    target = models.CharField(max_length=30, choices=Target.choices)
    channels = models.JSONField(default=list)

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "position"], name="step_position_unique"),
        ]

    def __str__(self):
        return f"+{self.after_seconds}s {self.get_target_display()}"


class Escalation(models.Model):
    """A missed deadline being chased. Its steps were frozen into ``steps`` when it began,
    so editing the policy never changes an escalation that is already running."""

    class State(models.TextChoices):
        OPEN = "open", "Open"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        RESOLVED = "resolved", "Resolved"

    class Outcome(models.TextChoices):
        SAFE = "worker_safe", "Worker safe"
        HURT = "worker_hurt", "Worker found hurt"
        POLICE = "police_involved", "Police involved"
        FORGOT = "forgot_to_check_out", "False: forgot to check in or out"
        LATE_CHECK_IN = "worker_checked_in_late", "Worker checked in late"

    session = models.ForeignKey(Session, on_delete=models.PROTECT, related_name="escalations")
    state = models.CharField(max_length=20, choices=State.choices, default=State.OPEN)
    missed_at = models.DateTimeField(help_text="the deadline that was missed")
    steps = models.JSONField(help_text="the policy's steps, frozen when the escalation began")
    next_step = models.PositiveSmallIntegerField(default=0)
    next_step_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                        on_delete=models.PROTECT, related_name="+")
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+")
    resolved_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=40, choices=Outcome.choices, blank=True)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["-missed_at"]
        indexes = [
            models.Index(fields=["next_step_at"], name="escalation_next_step_idx",
                         condition=Q(next_step_at__isnull=False)),
            models.Index(fields=["state"], name="escalation_state_idx"),
        ]
        constraints = [
            # One running escalation per session, however many workers race to start it.
            models.UniqueConstraint(fields=["session"], condition=~Q(state="resolved"),
                                    name="one_open_escalation_per_session"),
        ]

    def __str__(self):
        return f"Escalation of {self.session}"

    @property
    def is_open(self):
        return self.state != self.State.RESOLVED
