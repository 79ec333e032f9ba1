"""RSK-01 … RSK-03 through HTTP: a team manager adds activities and submits them, the
directorate lead returns and then accepts them; the security manager themes the teams'
risks and adds controls; the register scores a risk, keeps its history, and each person
reads only what their scope reaches."""

from datetime import date, timedelta

import pytest
from django.test import Client

from tests.conftest import bearer, post

pytestmark = pytest.mark.django_db


def _get(person, url):
    return Client().get(url, headers=bearer(person))


def test_rsk_01_activities_submitted_returned_and_accepted_over_the_api(trust):
    maria, claire = bearer(trust.people["maria"]), bearer(trust.people["claire"])
    north = trust.north.pk
    added = post(Client(), f"/api/v1/teams/{north}/activities", maria, {
        "title": "Home visit to a new referral", "where": "Patients' homes",
        "when": "Weekdays", "roles": "Staff nurses",
        "people_ids": [trust.people["nina"].pk, trust.people["ben"].pk],
        "risks": [{"risk_type": "physical_assault", "description": "No history known"}]})
    assert added.status_code == 201, added.content
    assert added.json()["people_ids"] == sorted([trust.people["nina"].pk,
                                                 trust.people["ben"].pk])
    assert post(Client(), f"/api/v1/teams/{north}/activities", bearer(trust.people["nina"]),
                {"title": "x", "risks": [{"risk_type": "other", "description": "y"}]}
                ).status_code == 404  # a lone worker does not see team records at all
    assert post(Client(), f"/api/v1/teams/{trust.cmht.pk}/activities", maria,
                {"title": "x", "risks": [{"risk_type": "other", "description": "y"}]}
                ).status_code == 404  # another team is out of her reach
    versions = _get(trust.people["maria"], f"/api/v1/teams/{north}/activities").json()
    list_id = versions[0]["id"]
    assert post(Client(), f"/api/v1/activity-lists/{list_id}/submit", maria).status_code == 200
    returned = post(Client(), f"/api/v1/activity-lists/{list_id}/decision", claire,
                    {"accept": False, "comments": "Add the evening clinic"})
    assert returned.status_code == 200 and returned.json()["state"] == "returned"
    assert post(Client(), f"/api/v1/activity-lists/{list_id}/decision", claire,
                {"accept": True}).status_code == 409
    assert post(Client(), f"/api/v1/activity-lists/{list_id}/submit", maria).status_code == 200
    accepted = post(Client(), f"/api/v1/activity-lists/{list_id}/decision", claire,
                    {"accept": True})
    assert accepted.json()["state"] == "accepted"
    # The security manager files the statement under a theme and adds a control.
    leslie = bearer(trust.people["leslie"])
    statements = _get(trust.people["leslie"], "/api/v1/risk-statements").json()
    assert [s["team"] for s in statements] == ["North"]
    theme = post(Client(), "/api/v1/themes", leslie, {
        "title": "Assault on a first visit", "risk_type": "physical_assault",
        "statement_ids": [statements[0]["id"]]})
    assert theme.status_code == 201 and theme.json()["teams"] == ["North"]
    control = post(Client(), "/api/v1/controls", leslie, {
        "title": "First visits in pairs", "theme_ids": [theme.json()["id"]]})
    assert control.status_code == 201
    assert _get(trust.people["maria"], "/api/v1/controls").json()[0]["title"] == \
        "First visits in pairs"
    assert _get(trust.people["nina"], "/api/v1/themes").status_code == 403
    assert post(Client(), "/api/v1/themes", maria, {"title": "x", "risk_type": "other"}
                ).status_code == 403


def _risk_body(owner, **extra):
    scores = {"initial_likelihood": 4, "initial_consequence": 4, "current_likelihood": 3,
              "current_consequence": 4, "target_likelihood": 2, "target_consequence": 3}
    return {"level": "organisation", "lone_working": True, "title": "Harm to lone workers",
            "description": "Staff working alone are harmed", "owner_id": owner.pk,
            "review_on": (date.today() + timedelta(days=90)).isoformat()} | scores | extra


def test_rsk_03_the_register_over_the_api(trust):
    leslie = trust.people["leslie"]
    made = post(Client(), "/api/v1/risks", bearer(leslie), _risk_body(leslie))
    assert made.status_code == 201, made.content
    risk = made.json()
    assert risk["current"] == {"likelihood": 3, "consequence": 4, "score": 12,
                               "band": "high"}
    again = post(Client(), "/api/v1/risks", bearer(leslie), _risk_body(leslie))
    assert again.status_code == 409
    rescored = post(Client(), f"/api/v1/risks/{risk['id']}/scores", bearer(leslie),
                    {"current_likelihood": 2, "reason": "Buddies in every team"})
    assert rescored.status_code == 200 and rescored.json()["current"]["band"] == "high"
    assert rescored.json()["history"][-1]["reason"] == "Buddies in every team"
    bad = post(Client(), f"/api/v1/risks/{risk['id']}/scores", bearer(leslie),
               {"current_likelihood": 6, "reason": "typo"})
    assert bad.status_code == 400
    action = post(Client(), f"/api/v1/risks/{risk['id']}/actions", bearer(leslie),
                  {"description": "Roll out the buddy system", "owner_id": leslie.pk,
                   "due_on": (date.today() + timedelta(days=30)).isoformat()})
    assert action.status_code == 201
    # Managers read the organisation's risk; a lone worker reads no register.
    assert [r["id"] for r in _get(trust.people["maria"], "/api/v1/risks").json()] == [
        risk["id"]]
    assert _get(trust.people["nina"], "/api/v1/risks").status_code == 403
    maria = trust.people["maria"]
    local = post(Client(), "/api/v1/risks", bearer(maria), _risk_body(
        maria, level="team", team_id=trust.north.pk, lone_working=False,
        title="Dark car park"))
    assert local.status_code == 201, local.content
    assert post(Client(), f"/api/v1/risks/{risk['id']}/scores", bearer(maria),
                {"current_likelihood": 1, "reason": "not hers"}).status_code == 403
    seen = {name: {r["title"] for r in _get(trust.people[name], "/api/v1/risks").json()}
            for name in ("maria", "claire", "marcus", "leslie")}
    assert seen == {"maria": {"Harm to lone workers", "Dark car park"},
                    "claire": {"Harm to lone workers", "Dark car park"},
                    "marcus": {"Harm to lone workers"},
                    "leslie": {"Harm to lone workers", "Dark car park"}}
    assert _get(trust.people["marcus"], f"/api/v1/risks/{local.json()['id']}"
                ).status_code == 404
