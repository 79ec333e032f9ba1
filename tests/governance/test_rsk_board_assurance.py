"""Board assurance against the Violence Prevention and Reduction Standard: a half-year's
report is pre-filled with the evidence Lonewatch holds for lone working, the security
manager writes the gaps, makes it final (the evidence frozen) and downloads the PDF."""

import subprocess
from datetime import date, timedelta

import pytest
from django.core.exceptions import PermissionDenied

from lonewatch.governance import actions
from lonewatch.governance.models import AssuranceReport
from tests.conftest import login

pytestmark = pytest.mark.django_db


def test_rsk_board_assurance_prefilled_written_frozen_and_exported(trust, client, tmp_path):
    leslie = trust.people["leslie"]
    actions.do_add_risk(
        trust.org, actor=leslie.user, level="organisation", lone_working=True,
        title="Harm to staff who work alone", description="x", owner=leslie,
        review_on=date.today() + timedelta(days=60),
        scores={f"{w}_{p}": 3 for w in ("initial", "current", "target")
                for p in ("likelihood", "consequence")})
    login(client, leslie, verified=True)  # a privileged role: with the second factor
    started = client.post("/assurance/start", {"period_start": "2026-04-01",
                                               "period_end": "2026-09-30"})
    assert started.status_code == 302
    report = AssuranceReport.objects.get()
    page = client.get(f"/assurance/{report.pk}/").content.decode()
    assert "Harm to staff who work alone: current 9" in page
    assert "Lone workers identified" in page and "Missed check-ins" in page
    client.post(f"/assurance/{report.pk}/write", {
        "workforce": "Device compliance is reported from the supplier until Lonewatch "
                     "records it.", "final": "yes"})
    report.refresh_from_db()
    assert report.finalised_at is not None and "risk" in report.evidence
    with pytest.raises(actions.GovernanceConflict):
        actions.do_write_assurance(report, actor=leslie.user, part="data", text="late")
    body = client.get(f"/assurance/{report.pk}.pdf")
    assert body["Content-Type"] == "application/pdf"
    path = tmp_path / "report.pdf"
    path.write_bytes(body.content)
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout
    text = " ".join(text.split())  # lines wrapped as the page sets them
    assert "Violence Prevention and Reduction Standard" in text
    assert "Device compliance is reported from the supplier" in text
    assert "Harm to staff who work alone" in text
    client.force_login(trust.people["maria"].user)
    assert client.get(f"/assurance/{report.pk}/").status_code == 403


def test_rsk_board_assurance_the_security_management_director_reads_it_and_cannot_write(
        trust, client, tmp_path):
    """The director takes the report to the board: every report and its PDF, the forms
    left out; starting or writing one is refused and changes nothing."""
    leslie, anita = trust.people["leslie"], trust.people["anita"]
    draft = actions.do_start_assurance(trust.org, actor=leslie.user,
                                       period_start=date(2026, 4, 1),
                                       period_end=date(2026, 9, 30))
    actions.do_write_assurance(draft, actor=leslie.user, part="evaluation",
                               text="No incident reviews yet.")
    login(client, anita)
    listing = client.get("/assurance/")
    assert listing.status_code == 200
    assert "1 Apr 2026 to 30 Sep 2026" in listing.content.decode()
    assert "Start the report" not in listing.content.decode()
    page = client.get(f"/assurance/{draft.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Being written by the security manager" in html
    assert "No incident reviews yet." in html and "<textarea" not in html
    assert 'href="/assurance/"' in client.get("/").content.decode()  # in the menu
    body = client.get(f"/assurance/{draft.pk}.pdf")
    assert body.status_code == 200 and body["Content-Type"] == "application/pdf"
    path = tmp_path / "report.pdf"
    path.write_bytes(body.content)
    text = " ".join(subprocess.run(["pdftotext", str(path), "-"], capture_output=True,
                                   text=True, check=True).stdout.split())
    assert "No incident reviews yet." in text and "Page 1 of" in text

    assert client.post("/assurance/start", {"period_start": "2026-10-01",
                                            "period_end": "2027-03-31"}).status_code == 403
    assert client.post(f"/assurance/{draft.pk}/write",
                       {"evaluation": "Changed", "final": "yes"}).status_code == 403
    draft.refresh_from_db()
    assert draft.written == {"evaluation": "No incident reviews yet."}
    assert draft.finalised_at is None and AssuranceReport.objects.count() == 1
    with pytest.raises(PermissionDenied):
        actions.do_finalise_assurance(draft, actor=anita.user)

    # Nobody else reads it: a directorate lead, a team manager, a lone worker.
    for name in ("claire", "maria", "nina"):
        client.force_login(trust.people[name].user)
        assert client.get("/assurance/").status_code == 403, name
        assert client.get(f"/assurance/{draft.pk}.pdf").status_code == 403, name
