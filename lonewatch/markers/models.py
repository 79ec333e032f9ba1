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
