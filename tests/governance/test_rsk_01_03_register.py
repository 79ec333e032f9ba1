"""RSK-01 … RSK-03: the 5×5 score and its band at every boundary; a team's activities
submitted, returned, submitted again and accepted, with every version kept; themes built
from several teams' risks; controls for themes; the register's scores and their history."""

from datetime import date, timedelta

import pytest
from django.core.exceptions import PermissionDenied

from lonewatch.core.models import AuditEvent
from lonewatch.governance import actions, scoring
from lonewatch.governance.models import Risk, ScoreChange, Submission

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("likelihood", "consequence", "score", "band"), [
    (1, 1, 1, "low"), (1, 3, 3, "low"), (3, 1, 3, "low"),
    (1, 4, 4, "moderate"), (2, 2, 4, "moderate"), (2, 3, 6, "moderate"),
    (3, 2, 6, "moderate"), (2, 4, 8, "high"), (3, 3, 9, "high"), (3, 4, 12, "high"),
    (4, 3, 12, "high"), (3, 5, 15, "extreme"), (4, 4, 16, "extreme"),
    (4, 5, 20, "extreme"), (5, 5, 25, "extreme"), (1, 5, 5, "moderate"),
    (5, 2, 10, "high"),
])
def test_rsk_03_the_5x5_score_and_its_band(likelihood, consequence, score, band):
    found = scoring.Score(likelihood, consequence)
    assert (found.value, found.band) == (score, band)


def test_rsk_03_every_possible_score_has_the_nhs_band():
    bands = {value: scoring.band(value) for value in
             {lk * c for lk in range(1, 6) for c in range(1, 6)}}
    assert [v for v, b in bands.items() if b == "low"] == [1, 2, 3]
    assert [v for v, b in bands.items() if b == "moderate"] == [4, 5, 6]
    assert [v for v, b in bands.items() if b == "high"] == [8, 9, 10, 12]
    assert [v for v, b in bands.items() if b == "extreme"] == [15, 16, 20, 25]


@pytest.mark.parametrize("bad", [0, 6, -1, 2.5, True, "3", None])
def test_rsk_03_a_likelihood_or_consequence_outside_1_to_5_is_refused(bad):
    with pytest.raises(scoring.ScoreError, match="from 1 to 5"):
        scoring.Score(bad, 3)
    with pytest.raises(scoring.ScoreError, match="consequence"):
        scoring.Score(3, bad)


def _activity(trust, submission, title="Home visit to a new referral", **extra):
    values = {"where": "Patients' homes", "when": "Weekdays 08:00-18:00",
              "roles": "Community staff nurses",
              "people": [trust.people["nina"], trust.people["ben"]],
              "risks": [{"risk_type": "physical_assault",
                         "description": "Unknown patient, no history"},
                        {"risk_type": "animals", "description": "Dogs not shut away"}]}
    return actions.do_add_activity(submission, actor=trust.people["maria"].user,
                                   title=title, **(values | extra))


def test_rsk_01_submitted_returned_resubmitted_and_accepted_with_history(trust):
    maria, claire = trust.people["maria"].user, trust.people["claire"].user
    draft = actions.draft_of(trust.north, actor=maria)
    with pytest.raises(actions.GovernanceError, match="Add the team's"):
        actions.do_submit(draft, actor=maria)
    _activity(trust, draft)
    with pytest.raises(actions.GovernanceError, match="not in North"):
        _activity(trust, draft, people=[trust.people["otto"]])
    actions.do_submit(draft, actor=maria)
    with pytest.raises(actions.GovernanceConflict):
        _activity(trust, draft, title="Evening clinic alone")
    with pytest.raises(PermissionDenied):
        actions.do_review(draft, actor=maria, accept=True)  # not her own review
    with pytest.raises(actions.GovernanceError, match="comments"):
        actions.do_review(draft, actor=claire, accept=False)
    returned = actions.do_review(draft, actor=claire, accept=False,
                                 comments="Add the evening clinic")
    assert returned.state == "returned"
    again = actions.draft_of(trust.north, actor=maria)
    assert again.pk == draft.pk  # the returned version is the one to change
    _activity(trust, again, title="Evening clinic alone",
              risks=[{"risk_type": "verbal_abuse", "description": "Walk-ins"}])
    actions.do_submit(again, actor=maria)
    accepted = actions.do_review(again, actor=claire, accept=True)
    assert accepted.state == "accepted" and accepted.review_on > date.today()
    # A new draft starts from the accepted version; the accepted one stays as it was.
    third = actions.draft_of(trust.north, actor=maria)
    assert third.version == 2 and third.activities.count() == 2
    assert [a.people.count() for a in third.activities.all()] == [2, 2]
    assert Submission.objects.get(pk=accepted.pk).state == "accepted"
    assert list(AuditEvent.objects.filter(action__startswith="activities.")
                .values_list("action", flat=True).order_by("id")) == [
        "activities.draft", "activities.add", "activities.submit", "activities.return",
        "activities.add", "activities.submit", "activities.accept", "activities.draft"]


def test_rsk_01_only_the_teams_manager_and_its_directorate_lead_act(trust):
    with pytest.raises(PermissionDenied):
        actions.draft_of(trust.north, actor=trust.people["marcus"].user)
    with pytest.raises(PermissionDenied):
        actions.draft_of(trust.north, actor=trust.people["nina"].user)
    draft = actions.draft_of(trust.north, actor=trust.people["maria"].user)
    _activity(trust, draft)
    actions.do_submit(draft, actor=trust.people["maria"].user)
    for outsider in ("leslie", "sarah", "marcus"):
        with pytest.raises(PermissionDenied):
            actions.do_review(draft, actor=trust.people[outsider].user, accept=True)


def _accepted(trust, team, manager, lead, *risks):
    draft = actions.draft_of(team, actor=manager.user)
    actions.do_add_activity(draft, actor=manager.user, title="Home visits",
                            risks=[{"risk_type": kind, "description": text}
                                   for kind, text in risks])
    actions.do_submit(draft, actor=manager.user)
    return actions.do_review(draft, actor=lead.user, accept=True)


def test_rsk_02_themes_from_several_teams_and_the_controls_for_them(trust):
    from lonewatch.org.roles import Role
    trust.person("rob", trust.cmht, [Role.DIRECTORATE_LEAD])
    leslie = trust.people["leslie"].user
    _accepted(trust, trust.north, trust.people["maria"], trust.people["claire"],
              ("physical_assault", "Unknown patients at home"), ("animals", "Dogs"))
    _accepted(trust, trust.cmht, trust.people["marcus"], trust.people["rob"],
              ("physical_assault", "Patients in crisis"))
    risks = actions.accepted_risks(trust.org.pk)
    assert len(risks) == 3
    theme = actions.do_save_theme(trust.org, actor=leslie, title="Assault on a home visit",
                                  risk_type="physical_assault")
    filed = [r for r in risks if r.risk_type == "physical_assault"]
    assert actions.do_file_under(filed, theme, actor=leslie) == 2
    assert sorted(s.activity.submission.team.name for s in theme.statements.all()) == [
        "CMHT", "North"]
    control = actions.do_save_control(trust.org, actor=leslie, title="Visits in pairs",
                                      themes=[theme])
    assert list(theme.controls.all()) == [control]
    with pytest.raises(actions.GovernanceError, match="already a theme"):
        actions.do_save_theme(trust.org, actor=leslie, title="assault on a home visit",
                              risk_type="physical_assault")
    with pytest.raises(PermissionDenied):
        actions.do_save_theme(trust.org, actor=trust.people["maria"].user, title="X",
                              risk_type="other")


def _scores(**values):
    base = {"initial_likelihood": 4, "initial_consequence": 4, "current_likelihood": 3,
            "current_consequence": 4, "target_likelihood": 2, "target_consequence": 3}
    return base | values


def test_rsk_03_the_organisational_risk_and_its_score_history(trust):
    leslie = trust.people["leslie"]
    risk = actions.do_add_risk(
        trust.org, actor=leslie.user, level="organisation", lone_working=True,
        title="Harm to lone workers", description="Staff working alone are harmed",
        owner=leslie, review_on=date.today() + timedelta(days=90), scores=_scores())
    assert (risk.current_score, risk.score("current").band, risk.score("target").value) == (
        12, "high", 6)
    with pytest.raises(actions.GovernanceConflict, match="already has its lone-working"):
        actions.do_add_risk(
            trust.org, actor=leslie.user, level="organisation", lone_working=True,
            title="Again", description="x", owner=leslie,
            review_on=date.today() + timedelta(days=90), scores=_scores())
    actions.do_rescore(risk, actor=leslie.user, scores={"current_likelihood": 2},
                       reason="Buddy system in every team")
    risk.refresh_from_db()
    assert risk.current_score == 8
    history = list(ScoreChange.objects.filter(risk=risk).values_list("which", "score",
                                                                    "reason"))
    assert history[-1] == ("current", 8, "Buddy system in every team")
    assert len(history) == 4
    with pytest.raises(actions.GovernanceError, match="as they were"):
        actions.do_rescore(risk, actor=leslie.user, scores={"current_likelihood": 2},
                           reason="no change")
    with pytest.raises(actions.GovernanceError, match="from 1 to 5"):
        actions.do_rescore(risk, actor=leslie.user, scores={"target_consequence": 6},
                           reason="typo")
    with pytest.raises(PermissionDenied):
        actions.do_rescore(risk, actor=trust.people["maria"].user,
                           scores={"current_likelihood": 1}, reason="not hers")


def test_rsk_03_a_team_holds_its_own_local_risk(trust):
    maria = trust.people["maria"]
    local = actions.do_add_risk(
        trust.org, actor=maria.user, level="team", team=trust.north,
        title="Car park unlit at the base", description="Leaving late alone",
        owner=maria, review_on=date.today() + timedelta(days=30), scores=_scores())
    assert local.level == Risk.Level.TEAM
    with pytest.raises(PermissionDenied):
        actions.do_add_risk(
            trust.org, actor=maria.user, level="team", team=trust.cmht, title="Not hers",
            description="x", owner=maria, review_on=date.today() + timedelta(days=30),
            scores=_scores())
