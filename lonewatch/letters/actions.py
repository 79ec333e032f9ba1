"""Templates the security manager edits, and letters made from them (REC-05).

A template's paragraphs take ``$placeholders`` (``PLACEHOLDERS``), filled in when a
letter is made; nothing else in it is code, so whoever edits a template can change only
its words. The paragraphs a letter must carry whatever its template says (REC-05: that
a recording exists, and how to ask for a transcript) are given by the case that makes
the letter and always printed.
"""

import hashlib
import secrets
from string import Template

from django.db import transaction

from lonewatch import clock
from lonewatch.core import audit, pdf, vault
from lonewatch.letters.models import Letter, LetterTemplate, Purpose
from lonewatch.org.models import Organisation

PLACEHOLDERS = {
    "recipient": "the name of the person the letter is to",
    "incident_date": "the day of the incident, as 23 November 2026",
    "incident_time": "the time of the incident, as 14:05",
    "incident_place": "where it happened (the visit's address, or the last known place)",
    "staff_member": "the member of staff who raised the alarm (their first name only)",
    "reference": "the trust's reference for the case",
    "trust": "the trust's name",
}

DEFAULTS = {
    Purpose.NOTIFICATION: {
        "title": "Notification of an incident involving a member of our staff",
        "body": (
            "Dear $recipient,\n\n"
            "On $incident_date at about $incident_time, a member of our staff, "
            "$staff_member, raised an alarm while working at $incident_place because of "
            "your behaviour towards them.\n\n"
            "We are writing to let you know that the incident has been recorded and "
            "reviewed. $trust does not accept abuse, threats or violence towards its "
            "staff, who have the right to work without fear.\n\n"
            "We will keep a record of this letter. If you would like to discuss it, "
            "please write to us at the address above, quoting reference $reference."),
    },
    Purpose.SANCTION: {
        "title": "Warning about your behaviour towards our staff",
        "body": (
            "Dear $recipient,\n\n"
            "On $incident_date at about $incident_time, a member of our staff, "
            "$staff_member, raised an alarm while working at $incident_place because of "
            "your behaviour towards them.\n\n"
            "This behaviour is unacceptable. If it happens again, $trust may take further "
            "action: arrange for visits to take place only with two members of staff or "
            "at another place, report the matter to the police, or take legal action.\n\n"
            "If you think this letter is wrong, or would like to discuss it, please write "
            "to us at the address above within 28 days, quoting reference $reference."),
    },
}
DEFAULT_SIGNATURE = "Local Security Management Specialist"


class LetterError(ValueError):
    """A template or letter that cannot be made as asked (HTTP 400): nothing changed."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


def template_for(organisation: Organisation, purpose: str) -> LetterTemplate:
    """The organisation's template for ``purpose``, or the default wording (unsaved)."""
    found = LetterTemplate.objects.filter(organisation=organisation, purpose=purpose).first()
    if found is not None:
        return found
    return LetterTemplate(organisation=organisation, purpose=purpose,
                          title=DEFAULTS[purpose]["title"], body=DEFAULTS[purpose]["body"],
                          sender=f"{organisation.name}\nSecurity Management Service",
                          signature=DEFAULT_SIGNATURE, updated_at=clock.now())


def do_save_template(organisation: Organisation, purpose: str, *, actor, title: str,
                     sender: str, body: str, signature: str) -> LetterTemplate:
    if purpose not in Purpose.values:
        raise LetterError(f"purpose must be one of {', '.join(Purpose.values)}", "purpose")
    fields = {"title": title, "sender": sender, "body": body, "signature": signature}
    fields = {name: (value or "").strip() for name, value in fields.items()}
    for name, value in fields.items():
        if not value:
            raise LetterError(f"The letter's {name} cannot be empty.", name)
    if len(fields["title"]) > 200 or len(fields["signature"]) > 200:
        raise LetterError("The title and the signature can be at most 200 characters.",
                          "title")
    body = Template(fields["body"])
    known = ", ".join(f"${name}" for name in PLACEHOLDERS)
    if not body.is_valid():
        raise LetterError(f"A $ must start a placeholder (write $$ for a dollar sign): use "
                          f"{known}.", "body")
    unknown = sorted(set(body.get_identifiers()) - PLACEHOLDERS.keys())
    if unknown:
        raise LetterError(f"Unknown placeholder {', '.join('$' + u for u in unknown)}: use "
                          f"{known}.", "body")
    with transaction.atomic():
        template, _made = LetterTemplate.objects.select_for_update().get_or_create(
            organisation=organisation, purpose=purpose,
            defaults={**fields, "updated_by": actor, "updated_at": clock.now()})
        before = {name: getattr(template, name) for name in fields}
        for name, value in fields.items():
            setattr(template, name, value)
        template.updated_by, template.updated_at = actor, clock.now()
        template.save()
        audit.record("letter.template", actor=actor, obj=template,
                     summary=f"{template.get_purpose_display()} template saved",
                     before=before, after=fields)
    return template


def do_make_letter(*, organisation: Organisation, purpose: str, about: tuple[str, int],
                   recipient_name: str, recipient_address: str, values: dict,
                   required: list[str], actor) -> Letter:
    """Make a letter from the organisation's template for ``purpose``: filled in with
    ``values`` (``PLACEHOLDERS``), followed by the ``required`` paragraphs, as a PDF kept
    encrypted with the case ``about`` (kind, id). Runs inside the caller's transaction
    if there is one; audited."""
    recipient_name = (recipient_name or "").strip()
    recipient_address = (recipient_address or "").strip()
    if not recipient_name:
        raise LetterError("Give the name of the person the letter is to.", "recipient_name")
    if not recipient_address:
        raise LetterError("Give the address the letter is sent to.", "recipient_address")
    if len(recipient_name) > 200 or len(recipient_address) > 1000:
        raise LetterError("The name can be at most 200 characters and the address 1,000.",
                          "recipient_address")
    template = template_for(organisation, purpose)
    filled = Template(template.body).safe_substitute(
        {**values, "recipient": recipient_name, "trust": organisation.name})
    paragraphs = [p.strip() for p in filled.split("\n\n") if p.strip()] + list(required)
    now = clock.now()
    document = pdf.render("letters/letter.html", {
        "template": template, "sender": template.sender.splitlines(),
        "recipient": [recipient_name, *recipient_address.splitlines()],
        "paragraphs": paragraphs, "date": now, "reference": values.get("reference", ""),
        "title": template.title, "signature": template.signature})
    text = "\n\n".join([template.title, *paragraphs])
    with transaction.atomic():
        name = vault.save(f"letters/{about[0]}-{about[1]}-{secrets.token_hex(6)}.pdf",
                          document)
        letter = Letter.objects.create(
            organisation_id=organisation.pk, purpose=purpose, about_kind=about[0],
            about_id=about[1], recipient_name=recipient_name,
            recipient_address=recipient_address, text=text, file=name,
            sha256=hashlib.sha256(document).hexdigest(), size=len(document), made_by=actor,
            made_at=now)
        audit.record("letter.make", actor=actor, obj=letter,
                     summary=f"{letter.get_purpose_display()} to {recipient_name} made "
                             f"({about[0]} {about[1]})",
                     after={"purpose": purpose, "about": list(about),
                            "sha256": letter.sha256})
    return letter


def read_letter(letter: Letter, *, actor) -> bytes:
    """The letter's PDF, for someone the case lets read it; audited."""
    data = vault.read(letter.file)
    audit.record_read("letter.read", actor=actor, obj=letter,
                      summary=f"{letter.get_purpose_display()} to {letter.recipient_name} "
                              "opened")
    return data
