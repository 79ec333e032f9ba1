"""The risk marker register (PRE-01, PRE-02): known risks linked to a service user and/or
an address, kept confidential and available before a visit."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from lonewatch.org.models import Organisation


class Category(models.TextChoices):
    VIOLENT_INDICATOR = "violent_patient_indicator", "Violent patient indicator"
    VIOLENT_SCHEME = "violent_patient_scheme", \
        "Violent patient scheme (visit only for clinical need)"
    ANIMALS = "aggressive_animals", "Aggressive animals"
    OTHERS_PRESENT = "others_present", "Others present who pose a risk"
    SUBSTANCES = "substance_misuse", "Substance misuse"
    WEAPONS = "weapons", "Weapons"
    ENVIRONMENT = "environment", "Environment"
    INFECTION = "infection_control", "Infection control"
    OTHER = "other", "Other"


class Marker(models.Model):
    """One known risk. It names a person (by NHS number or a local identifier), a place
    (a normalised postcode and house number or name, the flat if it is one, the UPRN when
    known), or both. A marker for a whole building matches every flat in it.

    Only an ``active`` marker is matched. A marker proposed from a visit's warning signs
    (PRE-06) waits as ``proposed`` until the security manager accepts or declines it."""

    class State(models.TextChoices):
        ACTIVE = "active", "In force"
        PROPOSED = "proposed", "Proposed from a visit"
        DECLINED = "declined", "Proposal declined"

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    nhs_number = models.CharField(max_length=10, blank=True, db_index=True)
    local_id = models.CharField(max_length=60, blank=True)
    postcode = models.CharField(max_length=8, blank=True, db_index=True)
    house = models.CharField(max_length=100, blank=True)  # normalised number or name
    flat = models.CharField(max_length=30, blank=True)  # normalised flat, if one
    whole_building = models.BooleanField(default=False)
    uprn = models.CharField(max_length=12, blank=True)
    category = models.CharField(max_length=30, choices=Category.choices)
    nature = models.TextField()
    advice = models.TextField()
    source = models.CharField(max_length=200)
    raised_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                  related_name="+")
    raised_at = models.DateTimeField()
    review_on = models.DateField()
    ended_at = models.DateTimeField(null=True, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.ACTIVE)
    # PRE-06: the visit whose warning signs proposed it.
    proposed_from = models.ForeignKey("visits.Session", null=True, blank=True,
                                      on_delete=models.PROTECT, related_name="+")
    # PRE-01: the review date its owner was last told had passed (told once per date; a
    # stored deadline: the scan finds markers whose review_on passed and differs).
    expiry_told_on = models.DateField(null=True, blank=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-raised_at", "-id"]
        indexes = [
            models.Index(fields=["organisation", "postcode"], name="marker_org_postcode_idx",
                         condition=Q(state="active", ended_at__isnull=True)),
            models.Index(fields=["organisation", "local_id"], name="marker_org_local_idx",
                         condition=Q(state="active", ended_at__isnull=True)),
            models.Index(fields=["review_on"], name="marker_review_idx",
                         condition=Q(state="active", ended_at__isnull=True)),
        ]

    def __str__(self):
        return f"{self.get_category_display()} marker"


class Share(models.Model):
    """PRE-03: a marker shared outside the team: with whom (organisation and role), on
    what legal basis, when and by whom. Kept as the trust's record of the sharing."""

    class Basis(models.TextChoices):
        VITAL_INTERESTS = "vital_interests", "Vital interests (UK GDPR Art. 6(1)(d))"
        PUBLIC_TASK = "public_task", "Public task (UK GDPR Art. 6(1)(e))"
        LEGAL_OBLIGATION = "legal_obligation", "Legal obligation (UK GDPR Art. 6(1)(c))"
        CRIME_PREVENTION = "crime_prevention", \
            "Prevention or detection of crime (DPA 2018 Sch. 2 para. 2)"
        CONSENT = "consent", "Consent of the person"

    marker = models.ForeignKey(Marker, on_delete=models.PROTECT, related_name="shares")
    organisation = models.CharField(max_length=200)  # who it went to
    role = models.CharField(max_length=200)
    basis = models.CharField(max_length=30, choices=Basis.choices)
    note = models.CharField(max_length=500, blank=True)
    shared_at = models.DateTimeField()
    shared_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                  related_name="+")

    class Meta:
        ordering = ["-shared_at", "-id"]

    def __str__(self):
        return f"{self.marker} shared with {self.organisation}"
