"""RSK-04: a team's SOP, filled from the catalogue, its local arrangements written by the
team and the rest read live from Lonewatch; drafted, submitted and approved by the
directorate lead, with every version kept. RSK-01, RSK-02: the trust's guidance, made
from the same catalogue, lists every control once."""

import io
import shutil
import subprocess
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404
from docx import Document

from lonewatch import clock
from lonewatch.core.models import AuditEvent
from lonewatch.escalation import policy
from lonewatch.governance import actions, documents, sops
from lonewatch.governance.access import access_sop, access_team_sops
from lonewatch.governance.models import Sop, Theme
from lonewatch.org.actions import do_set_team_practice
from lonewatch.org.models import Organisation
from tests.conftest import login, token_for

pytestmark = pytest.mark.django_db

needs_pdftotext = pytest.mark.skipif(shutil.which("pdftotext") is None,
                                     reason="pdftotext (poppler-utils) is not installed")
LOCAL = "The key safe code for the Wisbech base is with the duty coordinator."


@pytest.fixture
def catalogue(trust):
    """North's accepted activities, its risks filed under two themes; a third theme
    nobody's risks are under; controls, one of them for two themes; North's equipment."""
    maria, claire, leslie = (trust.people[n].user for n in ("maria", "claire", "leslie"))
    draft = actions.draft_of(trust.north, actor=maria)
    actions.do_add_activity(
        draft, actor=maria, title="Home visits to new referrals", where="Patients' homes",
        when="Weekdays", people=[trust.people["nina"]],
        risks=[{"risk_type": "physical_assault", "description": "Unknown patient"},
               {"risk_type": "animals", "description": "Dogs loose in the garden"}])
    actions.do_submit(draft, actor=maria)
    actions.do_review(draft, actor=claire, accept=True)
    assault = actions.do_save_theme(trust.org, actor=leslie, title="Assault on a home visit",
                                    risk_type="physical_assault",
                                    description="A patient or relative attacks the worker.")
    dogs = actions.do_save_theme(trust.org, actor=leslie, title="Dangerous dogs",
                                 risk_type="animals")
    roads = actions.do_save_theme(trust.org, actor=leslie, title="Driving at night",
                                  risk_type="road_traffic")
    statements = actions.accepted_risks(trust.org.pk)
    actions.do_file_under([r for r in statements if r.risk_type == "physical_assault"],
                          assault, actor=leslie)
    actions.do_file_under([r for r in statements if r.risk_type == "animals"], dogs,
                          actor=leslie)
    controls = {
        "pairs": actions.do_save_control(
            trust.org, actor=leslie, title="Joint visits for unknown patients",
            themes=[assault], description="Two staff visit until the risk is known."),
        "shut_away": actions.do_save_control(
            trust.org, actor=leslie, title="Dogs shut away before entry", themes=[dogs],
            description="Phone ahead and ask for animals to be shut in another room."),
        "alarm": actions.do_save_control(
            trust.org, actor=leslie, title="Personal alarm carried", themes=[assault, dogs],
            description="Every lone worker carries a charged personal alarm."),
        "fuel": actions.do_save_control(
            trust.org, actor=leslie, title="Fuel kept above a quarter tank",
            themes=[roads], description="Never start an evening round low on fuel."),
    }
    do_set_team_practice(trust.north, actor=maria, no_show_grace_minutes=20,
                         emergency_equipment="Charged phone\nTorch\nPersonal alarm")
    return {"assault": assault, "dogs": dogs, "roads": roads, **controls}


def _approved(trust, catalogue, local=LOCAL):
    maria, claire = trust.people["maria"].user, trust.people["claire"].user
    sop = actions.do_start_sop(trust.north, actor=maria)
    actions.do_edit_sop(sop, actor=maria, themes=[catalogue["assault"], catalogue["dogs"]],
                     local_arrangements=local)
    actions.do_submit_sop(sop, actor=maria)
    return actions.do_approve_sop(sop, actor=claire, approve=True)


def _pdf_text(data: bytes, tmp_path) -> str:
    path = tmp_path / "document.pdf"
    path.write_bytes(data)
    return " ".join(subprocess.run(["pdftotext", str(path), "-"], check=True,
                                   capture_output=True, text=True).stdout.split())


def _docx_paragraphs(data: bytes) -> list[str]:
    return [p.text for p in Document(io.BytesIO(data)).paragraphs]


def _live(sop, key: str) -> list[str]:
    return next(s.lines for s in sops.sop_content(sop)["sections"] if s.key == key)


def test_rsk_04_a_new_sop_starts_from_the_themes_of_the_teams_accepted_risks(trust,
                                                                           catalogue):
    sop = actions.do_start_sop(trust.north, actor=trust.people["maria"].user)
    assert (sop.version, sop.state) == (1, "draft")
    assert {t.title for t in sop.themes.all()} == {"Assault on a home visit",
                                                   "Dangerous dogs"}


def test_rsk_04_an_sop_reflects_a_changed_escalation_policy_without_being_edited(trust,
                                                                               catalogue):
    sop = _approved(trust, catalogue)
    before = _live(sop, "escalation")
    assert "North follows the trust policy's escalation steps, which the trust has not " \
           "changed." in before
    assert any(line.startswith("After 15 minutes: their line manager (Maria)")
               for line in before)
    policy.do_set_policy(trust.north, [
        {"after_seconds": 0, "notify": "buddy", "channels": ["sms"]},
        {"after_seconds": 600, "notify": "senior_manager", "channels": ["sms", "email"]},
    ], actor=trust.people["maria"].user)
    edits = AuditEvent.objects.filter(action__startswith="sop.").count()
    after = _live(Sop.objects.get(pk=sop.pk), "escalation")
    assert after[0] == "North has escalation steps of its own."
    assert after[2:] == ["At the deadline: their buddy (or cover buddy), by text message.",
                         "After 10 minutes: the senior manager (Sarah), by text message "
                         "and email."]
    # Nothing about the SOP changed: the same approved version, no edit in the trail.
    sop.refresh_from_db()
    assert (sop.version, sop.state) == (1, "approved")
    assert AuditEvent.objects.filter(action__startswith="sop.").count() == edits


def test_rsk_04_buddies_equipment_and_check_in_intervals_are_read_live(trust, catalogue,
                                                                      settings):
    sop = _approved(trust, catalogue)
    buddies = _live(sop, "buddies")
    assert "Ben: no buddy named." in buddies
    assert "Nina: buddy Ben, not yet accepted." in buddies
    assert any("20 minutes after its planned start" in line for line in buddies)
    nina = trust.people["nina"]
    nina.buddy_accepted_at = clock.now()
    nina.save()
    assert "Nina: buddy Ben, accepted." in _live(sop, "buddies")
    assert _live(sop, "equipment") == ["Charged phone", "Torch", "Personal alarm"]
    settings.PLANNED_VISIT_INTERVAL_SECONDS = 2700
    assert any("checks in every 45 minutes" in line for line in _live(sop, "check_ins"))
    assert any("weapons: 10 minutes" in line for line in _live(sop, "check_ins"))


@needs_pdftotext
def test_rsk_04_the_pdf_and_the_word_document_carry_the_teams_own_content(trust, catalogue,
                                                                         tmp_path):
    content = sops.sop_content(_approved(trust, catalogue))
    text = _pdf_text(documents.sop_pdf(content), tmp_path)
    paragraphs = _docx_paragraphs(documents.sop_docx(content))
    joined = " ".join(paragraphs)
    for found in (text, joined):
        assert LOCAL in found
        assert "North: lone working standard operating procedure" in found
        for control in ("Joint visits for unknown patients", "Dogs shut away before entry",
                        "Personal alarm carried"):
            assert control in found
        assert "Fuel kept above a quarter tank" not in found  # a theme North did not choose
        for item in ("Charged phone", "Torch"):
            assert item in found
        assert "Home visits to new referrals" in found
        assert "Approved by Claire" in found or "by Claire on" in found
    assert LOCAL in paragraphs and "Torch" in paragraphs
    assert "Local arrangements" in paragraphs
    assert "Emergency equipment, confirmed before each visit" in paragraphs


@needs_pdftotext
def test_rsk_04_the_guidance_lists_every_control_once(trust, catalogue, tmp_path):
    content = sops.guidance_content(trust.org)
    assert [c["title"] for c in content["controls"]] == sorted(
        c.title for c in (catalogue["pairs"], catalogue["shut_away"], catalogue["alarm"],
                          catalogue["fuel"]))
    themes = {t["title"]: t for t in content["themes"]}
    assert set(themes) == {"Assault on a home visit", "Dangerous dogs", "Driving at night"}
    assert themes["Assault on a home visit"]["teams"] == [{"team": "North (Community)",
                                                            "statements": 1}]
    assert themes["Driving at night"]["teams"] == []
    alarm = next(c for c in content["controls"] if c["title"] == "Personal alarm carried")
    # The control for two themes is referred to from both, set out once.
    assert [alarm["number"] in [c["number"] for c in t["controls"]]
            for t in themes.values()] == [True, True, False]
    text = _pdf_text(documents.guidance_pdf(content), tmp_path)
    paragraphs = _docx_paragraphs(documents.guidance_docx(content))
    for found in (text, " ".join(paragraphs)):
        for control in content["controls"]:
            assert found.count(control["title"]) == 1, control["title"]
            assert found.count(" ".join(control["description"])) == 1
        for theme in themes:
            assert theme in found


def test_rsk_04_drafted_submitted_returned_approved_and_superseded(trust, catalogue):
    maria, claire = trust.people["maria"].user, trust.people["claire"].user
    first = _approved(trust, catalogue)
    assert first.review_on == clock.now().date() + timedelta(days=365)
    assert first.approved_by == claire
    second = actions.do_start_sop(trust.north, actor=maria)
    assert second.version == 2
    assert second.local_arrangements == LOCAL
    assert {t.pk for t in second.themes.all()} == {t.pk for t in first.themes.all()}
    with pytest.raises(actions.GovernanceConflict, match="still a draft"):
        actions.do_start_sop(trust.north, actor=maria)
    actions.do_edit_sop(second, actor=maria, themes=[], local_arrangements="Changed")
    with pytest.raises(actions.GovernanceError, match="Choose the activity and risk themes"):
        actions.do_submit_sop(second, actor=maria)
    actions.do_edit_sop(second, actor=maria, themes=[catalogue["roads"]],
                     local_arrangements="Evening rounds end by 21:00.")
    actions.do_submit_sop(second, actor=maria)
    with pytest.raises(actions.GovernanceConflict):
        actions.do_edit_sop(second, actor=maria, themes=[], local_arrangements="")
    with pytest.raises(PermissionDenied):
        actions.do_approve_sop(second, actor=maria, approve=True)  # not hers to approve
    with pytest.raises(actions.GovernanceError, match="comments"):
        actions.do_approve_sop(second, actor=claire, approve=False)
    returned = actions.do_approve_sop(second, actor=claire, approve=False,
                                   comments="Say who holds the duty phone.")
    assert returned.state == "draft"
    assert sops.returned_comments(returned) == "Say who holds the duty phone."
    actions.do_submit_sop(returned, actor=maria)
    assert sops.returned_comments(Sop.objects.get(pk=second.pk)) == ""
    # While version 2 waits, version 1 is still the team's SOP.
    assert sops.current(trust.north).pk == first.pk
    approved = actions.do_approve_sop(second, actor=claire, approve=True)
    first.refresh_from_db()
    assert (first.state, approved.state) == ("superseded", "approved")
    assert sops.current(trust.north).pk == approved.pk
    assert list(trust.north.sops.values_list("version", "state")) == [
        (2, "approved"), (1, "superseded")]
    assert list(AuditEvent.objects.filter(action__startswith="sop.").order_by("id")
                .values_list("action", flat=True)) == [
        "sop.draft", "sop.edit", "sop.submit", "sop.approve", "sop.draft", "sop.edit",
        "sop.edit", "sop.submit", "sop.return", "sop.submit", "sop.approve"]
    with pytest.raises(actions.GovernanceError, match="own trust's themes"):
        actions.do_edit_sop(actions.do_start_sop(trust.north, actor=maria), actor=maria,
                         themes=[_elsewhere_theme()], local_arrangements="")


def _elsewhere_theme():
    other = Organisation.objects.create(name="Elsewhere Trust")
    return Theme.objects.create(organisation=other, title="Elsewhere", risk_type="other")


def test_rsk_04_who_reads_and_who_writes(trust, catalogue):
    people = trust.people
    approved = _approved(trust, catalogue)
    draft = actions.do_start_sop(trust.north, actor=people["maria"].user)
    for name in ("maria", "claire", "leslie", "anita"):  # managers and the security office
        assert access_sop(people[name].user, draft.pk) == draft
    for name in ("nina", "ben"):  # the team reads the approved SOP, not the drafts
        assert access_sop(people[name].user, approved.pk) == approved
        with pytest.raises(Http404):
            access_sop(people[name].user, draft.pk)
        assert access_team_sops(people[name].user, trust.north.pk)[1] is False
    for name in ("marcus", "otto", "sol", "olivia"):  # another team's manager and staff
        with pytest.raises(Http404):
            access_sop(people[name].user, approved.pk)
        with pytest.raises(Http404):
            access_team_sops(people[name].user, trust.north.pk)
    with pytest.raises(PermissionDenied):
        access_sop(people["nina"].user, approved.pk, action="change")
    with pytest.raises(PermissionDenied):
        access_sop(people["leslie"].user, draft.pk, action="act")
    with pytest.raises(PermissionDenied):
        actions.do_start_sop(trust.cmht, actor=people["maria"].user)
    with pytest.raises(PermissionDenied):
        actions.do_edit_sop(draft, actor=people["marcus"].user, themes=[],
                         local_arrangements="")


def _api(person) -> dict:
    return {"Authorization": f"Bearer {token_for(person)}"}


def test_rsk_04_the_api_keeps_and_downloads_sops(client, trust, catalogue):
    maria, claire, nina = (_api(trust.people[n]) for n in ("maria", "claire", "nina"))
    team = f"/api/v1/teams/{trust.north.pk}/sops"
    started = client.post(team, headers=maria)
    assert started.status_code == 201, started.content
    sop = started.json()
    assert sop["version"] == 1 and sop["state"] == "draft"
    assert [s["key"] for s in sop["live"]] == ["escalation", "buddies", "equipment",
                                              "check_ins"]
    assert client.post(team, headers=maria).status_code == 409
    assert client.post(team, headers=nina).status_code == 403
    assert client.post(f"/api/v1/teams/{trust.cmht.pk}/sops", headers=maria).status_code == 404
    url = f"/api/v1/sops/{sop['id']}"
    body = {"theme_ids": [catalogue["dogs"].pk], "local_arrangements": LOCAL}
    changed = client.put(url, body, content_type="application/json", headers=maria)
    assert changed.status_code == 200, changed.content
    assert changed.json()["themes"][0]["controls"][0]["title"] == "Dogs shut away before entry"
    unknown = client.put(url, {"theme_ids": [987654]}, content_type="application/json",
                         headers=maria)
    assert unknown.status_code == 400
    assert "There is no theme with id 987654" in unknown.json()["detail"]
    assert client.get(url, headers=nina).status_code == 404  # a draft: not the team's yet
    assert client.post(f"{url}/submit", headers=maria).status_code == 200
    assert client.post(f"{url}/decision", {"approve": True}, content_type="application/json",
                       headers=maria).status_code == 403
    returned = client.post(f"{url}/decision", {"approve": False},
                           content_type="application/json", headers=claire)
    assert returned.status_code == 400 and "comments" in returned.json()["detail"]
    decided = client.post(f"{url}/decision", {"approve": True},
                          content_type="application/json", headers=claire)
    assert decided.status_code == 200 and decided.json()["state"] == "approved"
    assert [s["version"] for s in client.get(team, headers=nina).json()] == [1]
    for suffix, content_type, magic in ((".pdf", documents.PDF, b"%PDF"),
                                        (".docx", documents.DOCX, b"PK")):
        download = client.get(url + suffix, headers=nina)
        assert download.status_code == 200, download.content
        assert download["Content-Type"] == content_type
        assert download.content.startswith(magic)
        assert "attachment" in download["Content-Disposition"]
        assert client.get(url + suffix, headers=_api(trust.people["marcus"])).status_code == 404
    for suffix, content_type in ((".pdf", documents.PDF), (".docx", documents.DOCX)):
        guidance = client.get(f"/api/v1/guidance{suffix}", headers=_api(trust.people["leslie"]))
        assert guidance.status_code == 200 and guidance["Content-Type"] == content_type
        assert client.get(f"/api/v1/guidance{suffix}", headers=nina).status_code == 403


def test_rsk_04_the_pages_draft_approve_and_show_the_sop(client, trust, catalogue):
    people = trust.people
    login(client, people["maria"])
    team_page = client.get(f"/teams/{trust.north.pk}/")
    assert f"/teams/{trust.north.pk}/sop/" in team_page.content.decode()
    started = client.post(f"/teams/{trust.north.pk}/sop/new")
    sop = Sop.objects.get(team=trust.north)
    assert started.status_code == 302 and started["Location"] == f"/sops/{sop.pk}/"
    page = client.get(f"/sops/{sop.pk}/").content.decode()
    assert 'name="themes"' in page and "from your team's risks" in page
    saved = client.post(f"/sops/{sop.pk}/edit", {"themes": [catalogue["assault"].pk],
                                                 "local_arrangements": LOCAL})
    assert saved.status_code == 302
    assert client.post(f"/sops/{sop.pk}/submit").status_code == 302
    login(client, people["claire"])
    assert "Approve" in client.get(f"/sops/{sop.pk}/").content.decode()
    refused = client.post(f"/sops/{sop.pk}/decision", {"decision": "return", "comments": ""})
    assert refused.status_code == 400
    assert client.post(f"/sops/{sop.pk}/decision", {"decision": "approve"}).status_code == 302
    login(client, people["nina"])
    assert client.get("/sop/")["Location"] == f"/teams/{trust.north.pk}/sop/"
    mine = client.get(f"/teams/{trust.north.pk}/sop/").content.decode()
    assert LOCAL in mine and "Joint visits for unknown patients" in mine
    assert "Start a new version" not in mine
    assert client.get(f"/sops/{sop.pk}/docx")["Content-Type"] == documents.DOCX
    assert client.get("/guidance/").status_code == 403
    login(client, people["marcus"])
    assert client.get(f"/teams/{trust.north.pk}/sop/").status_code == 404
    login(client, people["leslie"], verified=True)
    guidance = client.get("/guidance/").content.decode()
    assert "Personal alarm carried" in guidance and "Driving at night" in guidance
