"""A team's SOP and the trust's guidance as files (RSK-04): a PDF (WeasyPrint, through
``core.pdf``) to read and print, and an editable Word document (python-docx), because
teams keep their SOPs in shared drives. Both are made from ``sops.sop_content`` and
``sops.guidance_content``, so they say the same as the page."""

import io
import re

from django.utils import timezone

from lonewatch.core import pdf

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def filename(name: str, extension: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "document"
    return f"{slug}.{extension}"


def sop_filename(content: dict, extension: str) -> str:
    return filename(f"{content['team'].name} lone working SOP v{content['version']}",
                    extension)


def guidance_filename(content: dict, extension: str) -> str:
    return filename(f"{content['organisation'].name} lone working guidance", extension)


def sop_pdf(content: dict) -> bytes:
    return pdf.render("governance/sop_pdf.html", content)


def guidance_pdf(content: dict) -> bytes:
    return pdf.render("governance/guidance_pdf.html", content)


def _day(value) -> str:
    return value.strftime("%-d %B %Y") if value else ""


def _moment(value) -> str:
    return timezone.localtime(value).strftime("%-d %B %Y, %H:%M") if value else ""


def _new_document(title: str, author: str = ""):
    from docx import Document  # lazy: python-docx and lxml, loaded for a document only

    document = Document()
    document.core_properties.title = title
    if author:
        document.core_properties.author = author
    document.add_heading(title, level=0)
    return document


def _saved(document) -> bytes:
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _bullets(document, lines) -> None:
    for line in lines:
        document.add_paragraph(line, style="List Bullet")


def sop_docx(content: dict) -> bytes:
    """The SOP as a Word document: headings and paragraphs, for the team to keep and
    edit."""
    document = _new_document(content["title"], content["author"])
    status = content["state_label"]
    if content["state"] == "approved":
        status = (f"Approved by {content['approved_by']} on {_day(content['approved_at'])}; "
                  f"review by {_day(content['review_on'])}")
    for label, value in (("Organisation", content["organisation"].name),
                         ("Team", f"{content['team'].name} ({content['directorate'].name})"),
                         ("Version", str(content["version"])),
                         ("Author", content["author"]),
                         ("Status", status),
                         ("Read from Lonewatch on", _moment(content["generated_at"]))):
        paragraph = document.add_paragraph()
        paragraph.add_run(f"{label}: ").bold = True
        paragraph.add_run(value)

    document.add_heading("What the team does alone", level=1)
    if not content["activities"]:
        document.add_paragraph("The team has no accepted list of lone-working activities.")
    else:
        document.add_paragraph(f"From the team's accepted list of lone-working activities, "
                               f"version {content['activities_version']}.")
    for activity in content["activities"]:
        document.add_heading(activity["title"], level=2)
        for line in activity["description"]:
            document.add_paragraph(line)
        for label, value in (("Where", activity["where"]), ("When", activity["when"]),
                             ("Who", activity["roles"]),
                             ("Named lone workers", ", ".join(activity["people"]))):
            if value:
                paragraph = document.add_paragraph()
                paragraph.add_run(f"{label}: ").bold = True
                paragraph.add_run(value)
        _bullets(document, [f"{r['risk_type']}: {r['description']}" for r in activity["risks"]])

    document.add_heading("Risks and the controls in place", level=1)
    for theme in content["themes"]:
        document.add_heading(theme["title"], level=2)
        document.add_paragraph(f"Type of risk: {theme['risk_type']}")
        for line in theme["description"]:
            document.add_paragraph(line)
        if not theme["controls"]:
            document.add_paragraph("The catalogue has no controls for this theme yet.")
        for control in theme["controls"]:
            paragraph = document.add_paragraph(style="List Bullet")
            paragraph.add_run(control["title"]).bold = True
            if control["description"]:
                paragraph.add_run(": " + " ".join(control["description"]))

    document.add_heading("Local arrangements", level=1)
    for line in content["local_arrangements"] or ["None written."]:
        document.add_paragraph(line)

    document.add_heading("How Lonewatch is set up for the team", level=1)
    document.add_paragraph("Read from Lonewatch when this document was made: if Lonewatch "
                           "changes, make the document again.")
    for section in content["sections"]:
        document.add_heading(section.title, level=2)
        _bullets(document, section.lines)
    return _saved(document)


def guidance_docx(content: dict) -> bytes:
    """The trust's guidance as a Word document."""
    document = _new_document(content["title"])
    document.add_paragraph(f"Made from the trust's catalogue of lone-working themes and "
                           f"controls on {_moment(content['generated_at'])}.")
    document.add_heading("Activities and risks", level=1)
    for theme in content["themes"]:
        document.add_heading(theme["title"], level=2)
        document.add_paragraph(f"Type of risk: {theme['risk_type']}")
        for line in theme["description"]:
            document.add_paragraph(line)
        teams = ", ".join(f"{t['team']} ({t['statements']})" for t in theme["teams"])
        document.add_paragraph(f"Teams' risk statements: {teams}" if teams else
                               "No team's accepted risks are filed under this theme.")
        # Each control is set out once, under Controls; a theme refers to it by number.
        refs = ", ".join(c["number"] for c in theme["controls"])
        document.add_paragraph(f"Controls (see below): {refs}" if refs else
                               "Controls: none yet.")
    if content["unfiled"]:
        count = content["unfiled"]
        document.add_paragraph(f"{count} risk statement{'' if count == 1 else 's'} from "
                               f"teams' accepted lists {'is' if count == 1 else 'are'} not "
                               "yet filed under a theme.")
    document.add_heading("Controls", level=1)
    for control in content["controls"]:
        document.add_heading(f"{control['number']}. {control['title']}", level=2)
        for line in control["description"]:
            document.add_paragraph(line)
        document.add_paragraph("Mitigates: " + ", ".join(control["themes"]))
    return _saved(document)
