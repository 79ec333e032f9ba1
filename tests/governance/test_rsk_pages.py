"""RSK-01 … RSK-03 pages: the security manager files teams' risks under themes and adds
controls; the register's heat map places each risk at its current score, in its band,
and each reader sees only the risks their scope reaches."""

from datetime import date, timedelta

import pytest

from lonewatch.governance import actions
from lonewatch.governance.models import Control, Theme
from tests.conftest import login

pytestmark = pytest.mark.django_db


def _accepted(trust):
    maria, claire = trust.people["maria"], trust.people["claire"]
    draft = actions.draft_of(trust.north, actor=maria.user)
    actions.do_add_activity(draft, actor=maria.user, title="Home visits", risks=[
        {"risk_type": "physical_assault", "description": "Unknown patients"}])
    actions.do_submit(draft, actor=maria.user)
    actions.do_review(draft, actor=claire.user, accept=True)


def test_rsk_02_the_security_manager_files_risks_and_adds_controls_on_the_page(
        trust, client):
    _accepted(trust)
    login(client, trust.people["leslie"], verified=True)
    page = client.get("/themes/").content.decode()
    assert "Risks not yet filed (1)" in page and "Unknown patients" in page
    statement = actions.accepted_risks(trust.org.pk)[0]
    client.post("/themes/file", {"statement": [statement.pk], "theme": "",
                                 "title": "Assault on a home visit",
                                 "risk_type": "physical_assault"})
    theme = Theme.objects.get()
    assert [s.pk for s in theme.statements.all()] == [statement.pk]
    client.post("/themes/controls", {"title": "Visits in pairs", "themes": [theme.pk]})
    assert list(Control.objects.get().themes.all()) == [theme]
    page = client.get("/themes/").content.decode()
    assert "1 statement from North" in page and "Visits in pairs" in page
    client.force_login(trust.people["maria"].user)
    assert client.get("/themes/").status_code == 403


def test_rsk_03_the_heat_map_places_each_risk_at_its_current_score(trust, client):
    leslie, maria = trust.people["leslie"], trust.people["maria"]
    scores = {"initial_likelihood": 5, "initial_consequence": 5, "current_likelihood": 4,
              "current_consequence": 5, "target_likelihood": 1, "target_consequence": 5}
    actions.do_add_risk(trust.org, actor=leslie.user, level="organisation",
                        lone_working=True, title="Harm to lone workers", description="x",
                        owner=leslie, review_on=date.today() + timedelta(days=30),
                        scores=scores)
    actions.do_add_risk(trust.org, actor=maria.user, level="team", team=trust.north,
                        title="Dark car park", description="y", owner=maria,
                        review_on=date.today() + timedelta(days=30),
                        scores=scores | {"current_likelihood": 2, "current_consequence": 2})
    client.force_login(maria.user)
    answer = client.get("/risks/")
    placed = {(row["likelihood"], consequence + 1): (cell["score"], cell["band"],
                                                     [r.title for r in cell["risks"]])
              for row in answer.context["heat_map"]
              for consequence, cell in enumerate(row["cells"])}
    assert placed[(4, 5)] == (20, "extreme", ["Harm to lone workers"])
    assert placed[(2, 2)] == (4, "moderate", ["Dark car park"])
    assert sum(len(r) for _, _, r in placed.values()) == 2
    assert [row["likelihood"] for row in answer.context["heat_map"]] == [5, 4, 3, 2, 1]
    client.force_login(trust.people["marcus"].user)
    page = client.get("/risks/").content.decode()
    assert "Harm to lone workers" in page and "Dark car park" not in page
    client.force_login(trust.people["nina"].user)
    assert client.get("/risks/").status_code == 403


def test_rsk_02_the_guidance_is_reached_from_the_register_by_everyone_who_reads_it(
        trust, client):
    """The security manager and the security management director have no team SOP to
    find it from: the register and the themes page lead to it."""
    for name in ("anita", "maria", "claire"):
        client.force_login(trust.people[name].user)
        page = client.get("/risks/").content.decode()
        assert 'href="/guidance/"' in page, name
        assert client.get("/guidance/").status_code == 200, name
    login(client, trust.people["leslie"], verified=True)
    assert 'href="/guidance/"' in client.get("/themes/").content.decode()
