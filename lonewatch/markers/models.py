"""The risk marker register (PRE-01, PRE-02): known risks linked to a service user and/or
an address, kept confidential and available before a visit."""

from django.conf import settings
from django.db import models

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
    known), or both. A marker for a whole building matches every flat in it."""

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

    class Meta:
        ordering = ["-raised_at", "-id"]

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
