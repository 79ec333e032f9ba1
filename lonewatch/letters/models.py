"""Letters Lonewatch writes on the trust's behalf (REC-05): made as PDFs from templates
the security manager edits, and kept, encrypted, with the case they belong to.

The machinery knows nothing of what a letter is about: a letter carries a plain
reference (``about_kind``, ``about_id``) to its case, as a delivery does, so that the
security manager's review of a recording and, later, an incident's warning letter use
the same templates, rendering and store.
"""

from django.conf import settings
from django.db import models

from lonewatch.org.models import Organisation


class Purpose(models.TextChoices):
    SANCTION = "sanction", "Sanction letter"
    NOTIFICATION = "notification", "Notification letter"


class LetterTemplate(models.Model):
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    purpose = models.CharField(max_length=20, choices=Purpose.choices)
    title = models.CharField(max_length=200)
    # The letterhead: who the letter is from and where to write back (REC-05: the
    # transcript is asked for there).
    sender = models.TextField()
    # Paragraphs separated by a blank line; $placeholders are filled in (letters.render).
    body = models.TextField()
    signature = models.CharField(max_length=200)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organisation", "purpose"],
                                    name="one_template_per_purpose"),
        ]

    def __str__(self):
        return f"{self.get_purpose_display()} of {self.organisation}"


class Letter(models.Model):
    organisation_id = models.BigIntegerField(db_index=True)
    purpose = models.CharField(max_length=20, choices=Purpose.choices)
    about_kind = models.CharField(max_length=30)
    about_id = models.BigIntegerField()
    recipient_name = models.CharField(max_length=200)
    recipient_address = models.TextField()
    # What the letter says, as sent: the template filled in, with the paragraphs the
    # policy requires.
    text = models.TextField()
    file = models.CharField(max_length=200)  # the PDF, in the encrypted store
    sha256 = models.CharField(max_length=64)
    size = models.PositiveIntegerField()
    made_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                related_name="+")
    made_at = models.DateTimeField()

    class Meta:
        ordering = ["made_at", "id"]
        indexes = [models.Index(fields=["about_kind", "about_id"], name="letter_about_idx")]

    def __str__(self):
        return f"{self.get_purpose_display()} to {self.recipient_name}"
