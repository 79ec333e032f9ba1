"""Lone-working governance (RSK-01 … RSK-07): what each team does alone and what could
go wrong, the security manager's themes and controls, the risk register on the NHS 5×5
matrix, and the reviews that keep them current.

Governance knows people, teams and directorates (org) and nothing of the live-safety
apps: the figures it shows come through ``core.figures``, registered by the apps that
own them."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from lonewatch.governance import scoring
from lonewatch.org.models import Directorate, Organisation, Person, Team


class RiskType(models.TextChoices):
    """The type of incident risk (000 §8.4)."""

    PHYSICAL_ASSAULT = "physical_assault", "Physical assault"
    VERBAL_ABUSE = "verbal_abuse", "Verbal abuse, threats or harassment"
    THEFT = "theft", "Theft of property or equipment"
    ANIMALS = "animals", "Animals"
    ROAD_TRAFFIC = "road_traffic", "Road traffic"
    MEDICAL = "medical_emergency", "Medical emergency"
    ENVIRONMENT = "environment", "Environment (buildings, weather, remoteness)"
    SEXUAL = "sexual_harassment", "Sexual harassment or assault"
    OTHER = "other", "Other"


class Submission(models.Model):
    """RSK-01: one version of a team's lone-working activities and their risks. The team
    manager keeps a draft and submits it; the directorate lead accepts it or returns it
    with comments. A new draft starts from the last version. Every version is kept."""

    class State(models.TextChoices):
        DRAFT = "draft", "Draft"
        SUBMITTED = "submitted", "Submitted: waiting for the directorate"
        RETURNED = "returned", "Returned with comments"
        ACCEPTED = "accepted", "Accepted"

    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="submissions")
    version = models.PositiveIntegerField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.DRAFT)
    created_at = models.DateTimeField()
    submitted_at = models.DateTimeField(null=True, blank=True)
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                     on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+")
    comments = models.TextField(blank=True)  # the directorate's, when returned
    review_on = models.DateField(null=True, blank=True)  # RSK-06, once accepted
    reminded_on = models.DateField(null=True, blank=True)  # RSK-06: the last reminder

    class Meta:
        ordering = ["team", "-version"]
        constraints = [models.UniqueConstraint(fields=["team", "version"],
                                               name="submission_version_unique")]

    def __str__(self):
        return f"{self.team} activities, version {self.version}"

    @property
    def organisation_id(self) -> int:
        return self.team.directorate.organisation_id


class Activity(models.Model):
    """A lone-working activity of a team: what, where and when, and who does it (roles,
    and the named people, so that the team's lone workers are known, not guessed)."""

    submission = models.ForeignKey(Submission, on_delete=models.CASCADE,
                                   related_name="activities")
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    where = models.CharField(max_length=300, blank=True)
    when = models.CharField(max_length=300, blank=True)
    roles = models.CharField(max_length=300, blank=True)  # job roles, in words
    people = models.ManyToManyField(Person, related_name="lone_working_activities",
                                    blank=True)

    class Meta:
        ordering = ["submission", "id"]

    def __str__(self):
        return self.title


class Theme(models.Model):
    """RSK-01: the security manager's grouping of many teams' risk statements into one
    lone-working activity/risk of the trust."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT,
                                     related_name="+")
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    risk_type = models.CharField(max_length=20, choices=RiskType.choices)

    class Meta:
        ordering = ["title"]
        constraints = [models.UniqueConstraint(fields=["organisation", "title"],
                                               name="theme_title_unique")]

    def __str__(self):
        return self.title


class ActivityRisk(models.Model):
    """A risk of one activity, as the team put it; the security manager files it under a
    theme."""

    activity = models.ForeignKey(Activity, on_delete=models.CASCADE, related_name="risks")
    risk_type = models.CharField(max_length=20, choices=RiskType.choices)
    description = models.TextField()
    theme = models.ForeignKey(Theme, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="statements")

    class Meta:
        ordering = ["activity", "id"]

    def __str__(self):
        return f"{self.get_risk_type_display()}: {self.description[:60]}"


class Control(models.Model):
    """RSK-02: a control in the catalogue; it mitigates one or more themes."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT,
                                     related_name="+")
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    themes = models.ManyToManyField(Theme, related_name="controls")

    class Meta:
        ordering = ["title"]
        constraints = [models.UniqueConstraint(fields=["organisation", "title"],
                                               name="control_title_unique")]

    def __str__(self):
        return self.title


class Risk(models.Model):
    """RSK-03: a risk on the register, scored on the 5×5 matrix three times: as it was
    first assessed (initial), with the controls in place (current) and where the
    actions should bring it (target). The trust's one organisational lone-working risk
    is built from the themes and controls; a team or directorate may hold local risks."""

    class Level(models.TextChoices):
        ORGANISATION = "organisation", "Organisational"
        DIRECTORATE = "directorate", "Directorate"
        TEAM = "team", "Team"

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT,
                                     related_name="+")
    level = models.CharField(max_length=12, choices=Level.choices)
    # A team's risk names its directorate too, so the directorate's lead reaches it.
    directorate = models.ForeignKey(Directorate, null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+")
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.PROTECT,
                             related_name="+")
    lone_working = models.BooleanField(default=False)  # the organisational one
    title = models.CharField(max_length=200)
    description = models.TextField()
    owner = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+")
    initial_likelihood = models.PositiveSmallIntegerField()
    initial_consequence = models.PositiveSmallIntegerField()
    current_likelihood = models.PositiveSmallIntegerField()
    current_consequence = models.PositiveSmallIntegerField()
    target_likelihood = models.PositiveSmallIntegerField()
    target_consequence = models.PositiveSmallIntegerField()
    current_score = models.PositiveSmallIntegerField()  # kept for the heat map's counts
    themes = models.ManyToManyField(Theme, related_name="risks", blank=True)
    controls = models.ManyToManyField(Control, related_name="risks", blank=True)
    controls_in_place = models.TextField(blank=True)  # in words, beyond the catalogue
    gaps_in_control = models.TextField(blank=True)
    gaps_in_assurance = models.TextField(blank=True)
    review_on = models.DateField()
    reminded_on = models.DateField(null=True, blank=True)  # RSK-06: the last reminder
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-current_score", "title"]
        constraints = [
            models.UniqueConstraint(fields=["organisation"], condition=Q(lone_working=True),
                                    name="one_organisational_lone_working_risk"),
        ]
        indexes = [models.Index(fields=["review_on"], name="risk_review_idx")]

    def __str__(self):
        return self.title

    def score(self, which: str) -> scoring.Score:
        return scoring.Score(getattr(self, f"{which}_likelihood"),
                             getattr(self, f"{which}_consequence"))


class ScoreChange(models.Model):
    """RSK-03: every change of a risk's scores, with who, when and why."""

    risk = models.ForeignKey(Risk, on_delete=models.CASCADE, related_name="score_changes")
    which = models.CharField(max_length=8)  # initial, current or target
    likelihood = models.PositiveSmallIntegerField()
    consequence = models.PositiveSmallIntegerField()
    score = models.PositiveSmallIntegerField()
    at = models.DateTimeField()
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                           related_name="+")
    reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["risk", "at", "id"]

    def __str__(self):
        return f"{self.which} {self.score}"


class RiskAction(models.Model):
    """RSK-03: an action to bring a risk towards its target, with its owner and due date."""

    risk = models.ForeignKey(Risk, on_delete=models.CASCADE, related_name="actions")
    description = models.TextField()
    owner = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+")
    due_on = models.DateField()
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_on", "id"]

    def __str__(self):
        return self.description[:60]


class Sop(models.Model):
    """RSK-04: one version of a team's Standard Operating Procedure for lone working,
    filled from the catalogue: the themes the team picks give their controls; the team
    adds its local arrangements; what the rest of Lonewatch already holds (the team's
    escalation steps, buddies and cover, emergency equipment, check-in intervals) is read
    live when the SOP is shown or exported, so it cannot contradict the running system.
    The directorate lead approves it; it has a review date."""

    class State(models.TextChoices):
        DRAFT = "draft", "Draft"
        SUBMITTED = "submitted", "Waiting for approval"
        APPROVED = "approved", "Approved"
        SUPERSEDED = "superseded", "Superseded"

    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="sops")
    version = models.PositiveIntegerField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.DRAFT)
    themes = models.ManyToManyField(Theme, related_name="sops", blank=True)
    local_arrangements = models.TextField(blank=True)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                               related_name="+")
    created_at = models.DateTimeField()
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+")
    approved_at = models.DateTimeField(null=True, blank=True)
    review_on = models.DateField(null=True, blank=True)
    reminded_on = models.DateField(null=True, blank=True)  # RSK-06: the last reminder
    comments = models.TextField(blank=True)  # the directorate lead's, at the last decision

    class Meta:
        ordering = ["team", "-version"]
        constraints = [models.UniqueConstraint(fields=["team", "version"],
                                               name="sop_version_unique")]
        indexes = [models.Index(fields=["review_on"], name="sop_review_idx",
                                condition=Q(state="approved"))]

    def __str__(self):
        return f"{self.team} SOP, version {self.version}"


class Threshold(models.Model):
    """RSK-05: where a dashboard column turns amber and red, as the security manager sets
    it for the trust (a column's own default otherwise)."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT,
                                     related_name="+")
    column = models.CharField(max_length=60)
    amber = models.FloatField()
    red = models.FloatField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organisation", "column"],
                                               name="threshold_column_unique")]

    def __str__(self):
        return f"{self.column}: amber {self.amber}, red {self.red}"


class ReviewRequest(models.Model):
    """RSK-06: an out-of-cycle review of a risk, an SOP or a team's activities, asked for
    with a reason (after an incident that exposed a weakness, a change of policy), and
    tracked until it is done."""

    class Subject(models.TextChoices):
        RISK = "risk", "Risk"
        SOP = "sop", "SOP"
        ACTIVITIES = "activities", "Team's activities"

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT,
                                     related_name="+")
    subject = models.CharField(max_length=10, choices=Subject.choices)
    risk = models.ForeignKey(Risk, null=True, blank=True, on_delete=models.CASCADE,
                             related_name="review_requests")
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.PROTECT,
                             related_name="+")
    reason = models.TextField()
    source = models.CharField(max_length=200, blank=True)  # what asked: "Incident 41"
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                     on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField()
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-requested_at"]

    def __str__(self):
        return f"Review of {self.get_subject_display().lower()} asked: {self.reason[:40]}"


class SecurityProvision(models.Model):
    """RSK-07 (000 §11): a physical security presence, in exceptional cases only: care
    cannot be withdrawn or moved, an MDT meeting considered every other option, and an
    executive signs it off from their own account. Short term, with an end date; it is
    not active without the sign-off."""

    class State(models.TextChoices):
        REQUESTED = "requested", "Waiting for executive sign-off"
        ACTIVE = "active", "Active"
        ENDED = "ended", "Ended"
        DECLINED = "declined", "Declined"

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT,
                                     related_name="+")
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="+")
    service_user = models.CharField(max_length=200)  # a reference, not a name
    address = models.CharField(max_length=300)
    why_care_continues = models.TextField()  # why it cannot be withdrawn or moved
    mdt_date = models.DateField()
    mdt_attendees = models.TextField()
    mdt_outcome = models.TextField()
    starts_on = models.DateField()
    ends_on = models.DateField()
    state = models.CharField(max_length=10, choices=State.choices,
                             default=State.REQUESTED)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                     related_name="+")
    requested_at = models.DateTimeField()
    signed_off_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                      on_delete=models.PROTECT, related_name="+")
    signed_off_at = models.DateTimeField(null=True, blank=True)
    sign_off_note = models.TextField(blank=True)
    end_reminded_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at"]
        indexes = [models.Index(fields=["ends_on"], name="provision_ends_idx",
                                condition=Q(state="active"))]

    def __str__(self):
        return f"Security provision at {self.address}"


class AssuranceReport(models.Model):
    """Board assurance, twice a year, against NHS England's Violence Prevention and
    Reduction Standard: the evidence Lonewatch holds for the lone-working indicators,
    frozen when the report is finalised, and what the security manager writes for each
    part of the standard, gaps included."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT,
                                     related_name="+")
    period_start = models.DateField()
    period_end = models.DateField()
    written = models.JSONField(default=dict)  # the standard's part -> the text
    evidence = models.JSONField(default=dict)  # frozen at finalising
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                   related_name="+")
    created_at = models.DateTimeField()
    finalised_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                     on_delete=models.PROTECT, related_name="+")
    finalised_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-period_end"]
        constraints = [models.UniqueConstraint(fields=["organisation", "period_end"],
                                               name="assurance_period_unique")]

    def __str__(self):
        return f"Board assurance to {self.period_end:%d %B %Y}"
