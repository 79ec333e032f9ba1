"""ESC-01: the trust default escalation policy, which every team without its own follows.

The security manager and administrators change it; a team's managers see it (it is what
their team follows) and may send their team back to it. Escalations already running keep
the steps they started with.
"""

import pytest

from lonewatch.accounts.actions import do_create_token
from lonewatch.accounts.models import User
from lonewatch.core import permissions as perms
from lonewatch.core.models import AuditEvent
from lonewatch.core.permissions import CHANGE, VIEW
from lonewatch.escalation import policy
from lonewatch.escalation.models import Escalation, EscalationPolicy
from lonewatch.escalation.permissions import POLICY
from lonewatch.escalation.policy import (
    DEFAULT_STEPS,
    PolicyError,
    do_clear_team_policy,
    do_set_default_policy,
    do_set_policy,
    steps_for,
    steps_for_team,
)
from lonewatch.org.models import Directorate, Organisation, Person, Team
from lonewatch.org.roles import Role, Scope
from lonewatch.visits import actions
from tests.conftest import token_for
from tests.escalation.test_esc_engine import tick, told

CALL_MARIA = [{"after_seconds": 60, "notify": "line_manager", "channels": ["email", "in_app"]}]
ALARM_CENTRE = [{"after_seconds": 0, "notify": "alarm_centre", "channels": ["in_app"]},
                {"after_seconds": 600, "notify": "senior_manager", "channels": ["sms"]}]
NORTH_OWN = [{"after_seconds": 0, "notify": "buddy", "channels": ["sms", "in_app"]}]


def shape(steps) -> list[tuple]:
    return [(s.after_seconds, s.target, s.channels) for s in steps]


def raw_shape(raw_steps) -> list[tuple]:
    return [(s["after_seconds"], s["notify"], tuple(s["channels"])) for s in raw_steps]


# --- Who may see and change which policy, written out by hand ---------------------------

# actor -> (the trust default, North's policy, the CMHT's policy) they may see / change.
# North and South are in Community; the CMHT is in Mental Health.
MAY_VIEW = {
    "maria": {"default", "North"}, "marcus": {"default", "CMHT"},
    "sarah": {"default", "North", "South"},
    "leslie": {"default", "North", "South", "CMHT"},
    "adam": {"default", "North", "South", "CMHT"},
}
MAY_CHANGE = {
    "maria": {"North"}, "marcus": {"CMHT"}, "sarah": {"North", "South"},
    "leslie": {"default", "North", "South", "CMHT"},
    "adam": {"default", "North", "South", "CMHT"},
}
NOBODY = ("nina", "ben", "sol", "otto", "claire", "anita", "olivia", "helen", "jo")


@pytest.mark.parametrize("actor", sorted(set(MAY_VIEW) | set(NOBODY)))
def test_esc_01_who_may_see_and_change_escalation_policies(trust, actor):
    user = trust.people[actor].user
    records = {"default": trust.org, "North": trust.north, "South": trust.south,
               "CMHT": trust.cmht}
    wrong = []
    for action, expected in ((VIEW, MAY_VIEW), (CHANGE, MAY_CHANGE)):
        for label, record in records.items():
            got = perms.can(user, action, POLICY, record)
            want = label in expected.get(actor, set())
            if got != want:
                wrong.append(f"{action} {label}: got {got}, want {want}")
    assert not wrong, f"{actor}: " + "; ".join(wrong)


def test_esc_01_another_trusts_default_is_out_of_everyones_reach(trust):
    other = Organisation.objects.create(name="Other Trust")
    for actor in ("leslie", "adam", "maria"):
        user = trust.people[actor].user
        assert not perms.can(user, VIEW, POLICY, other)
        assert not perms.can(user, CHANGE, POLICY, other)


def test_esc_01_an_organisation_wide_manager_role_may_change_the_default(trust):
    """The rule is the scope, not the role's name: a line manager scoped to the whole
    organisation reaches the default; the same role scoped to a team does not."""

    wide = trust.person("wendy", None, [(Role.LINE_MANAGER, Scope.ORGANISATION)])
    assert perms.can(wide.user, CHANGE, POLICY, trust.org)
    assert not perms.can(trust.people["maria"].user, CHANGE, POLICY, trust.org)


# --- The actions ------------------------------------------------------------------------

def test_esc_01_default_policy_applies_to_every_team_without_its_own(trust):
    leslie = trust.people["leslie"].user
    do_set_policy(trust.north, NORTH_OWN, actor=trust.people["maria"].user)
    assert shape(steps_for(trust.south)) == shape(DEFAULT_STEPS)
    saved = do_set_default_policy(trust.org, ALARM_CENTRE, actor=leslie)
    assert shape(saved) == raw_shape(ALARM_CENTRE)
    assert shape(steps_for(trust.south)) == raw_shape(ALARM_CENTRE)
    assert shape(steps_for(trust.cmht)) == raw_shape(ALARM_CENTRE)
    assert shape(steps_for(trust.north)) == raw_shape(NORTH_OWN)  # its own steps stand
    # A worker in no team follows the organisation's default too.
    assert shape(steps_for_team(None, trust.org.pk)) == raw_shape(ALARM_CENTRE)
    # Saved again, the one default is replaced, never duplicated.
    do_set_default_policy(trust.org, CALL_MARIA, actor=leslie)
    assert EscalationPolicy.objects.filter(organisation=trust.org, team=None).count() == 1
    assert shape(steps_for(trust.south)) == raw_shape(CALL_MARIA)


def test_esc_01_changing_the_default_is_audited_with_before_and_after(trust):
    leslie = trust.people["leslie"].user
    do_set_default_policy(trust.org, ALARM_CENTRE, actor=leslie)
    do_set_default_policy(trust.org, CALL_MARIA, actor=leslie)
    first, second = AuditEvent.objects.filter(
        action="escalation_policy.default.update").order_by("id")
    assert (first.object_type, first.object_id) == ("org.organisation", str(trust.org.pk))
    assert first.actor == leslie
    assert first.changes["before"] == {"steps": [s.as_json() for s in DEFAULT_STEPS],
                                       "follows": "built_in"}
    assert first.changes["after"]["follows"] == "organisation_default"
    assert second.changes["before"]["steps"] == [
        {"after_seconds": 0, "target": "alarm_centre", "channels": ["in_app"]},
        {"after_seconds": 600, "target": "senior_manager", "channels": ["sms"]}]
    assert second.changes["after"]["steps"] == [
        {"after_seconds": 60, "target": "line_manager", "channels": ["email", "in_app"]}]


def test_esc_01_invalid_default_is_refused_and_changes_nothing(trust):
    with pytest.raises(PolicyError, match="step 2: steps must be in order"):
        do_set_default_policy(trust.org, list(reversed(ALARM_CENTRE)),
                              actor=trust.people["leslie"].user)
    assert not EscalationPolicy.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="escalation_policy").exists()


def test_esc_01_team_follows_the_default_again(trust):
    maria = trust.people["maria"].user
    do_set_default_policy(trust.org, CALL_MARIA, actor=trust.people["leslie"].user)
    do_set_policy(trust.north, NORTH_OWN, actor=maria)
    assert do_clear_team_policy(trust.north, actor=maria) is True
    assert shape(steps_for(trust.north)) == raw_shape(CALL_MARIA)
    assert not EscalationPolicy.objects.filter(team=trust.north).exists()
    event = AuditEvent.objects.get(action="escalation_policy.delete")
    assert (event.object_type, event.object_id, event.actor) == (
        "org.team", str(trust.north.pk), maria)
    assert event.changes["before"]["follows"] == "team"
    assert event.changes["before"]["steps"][0]["target"] == "buddy"
    assert event.changes["after"]["follows"] == "organisation_default"
    assert event.changes["after"]["steps"][0]["target"] == "line_manager"
    # Already following it: nothing to do, nothing audited.
    assert do_clear_team_policy(trust.north, actor=maria) is False
    assert AuditEvent.objects.filter(action="escalation_policy.delete").count() == 1
    # The default itself is untouched.
    assert EscalationPolicy.objects.filter(organisation=trust.org, team=None).exists()


def test_esc_01_team_without_a_trust_default_goes_back_to_the_built_in_steps(trust):
    do_set_policy(trust.north, NORTH_OWN, actor=trust.people["maria"].user)
    do_clear_team_policy(trust.north, actor=trust.people["maria"].user)
    assert shape(steps_for(trust.north)) == shape(DEFAULT_STEPS)
    event = AuditEvent.objects.get(action="escalation_policy.delete")
    assert event.changes["after"]["follows"] == "built_in"


def test_esc_01_one_trusts_default_does_not_reach_another_trust(trust):
    other = Organisation.objects.create(name="Other Trust")
    elsewhere = Team.objects.create(
        directorate=Directorate.objects.create(organisation=other, name="Community"),
        name="North")
    do_set_default_policy(trust.org, CALL_MARIA, actor=trust.people["leslie"].user)
    assert shape(steps_for(elsewhere)) == shape(DEFAULT_STEPS)


# --- Running escalations keep their frozen steps ------------------------------------------

def test_esc_01_new_default_applies_to_the_next_escalation_not_a_running_one(
        at, start_session, trust):
    session = start_session(interval=600)
    at(minutes=10)
    tick()  # North has no policy of its own: the escalation starts on the built-in steps
    running = Escalation.objects.get()
    do_set_default_policy(trust.org, CALL_MARIA, actor=trust.people["leslie"].user)
    at(minutes=15)
    tick()
    running.refresh_from_db()
    assert running.steps == [s.as_json() for s in DEFAULT_STEPS]
    assert told(session) == [("nina", "push"), ("nina", "sms"), ("nina", "in_app"),
                             ("ben", "push"), ("ben", "sms"), ("ben", "in_app")]
    actions.do_check_in(session, actor=trust.people["nina"].user)  # late: resolves it
    running.refresh_from_db()
    assert running.state == "resolved"
    before = len(told(session))
    at(minutes=25)  # the next check-in is missed: the new default applies
    tick()
    following = Escalation.objects.exclude(pk=running.pk).get()
    assert following.steps == [{"after_seconds": 60, "target": "line_manager",
                                "channels": ["email", "in_app"]}]
    at(minutes=26)
    tick()
    assert told(session)[before:] == [("maria", "email"), ("maria", "in_app")]


def test_esc_01_team_with_its_own_policy_ignores_the_default(at, start_session, trust):
    do_set_policy(trust.north, NORTH_OWN, actor=trust.people["maria"].user)
    do_set_default_policy(trust.org, CALL_MARIA, actor=trust.people["leslie"].user)
    session = start_session(interval=600)
    at(minutes=10)
    tick()
    assert Escalation.objects.get().steps == [
        {"after_seconds": 0, "target": "buddy", "channels": ["sms", "in_app"]}]
    at(minutes=12)
    tick()
    assert told(session) == [("ben", "sms"), ("ben", "in_app")]


# --- The pages ----------------------------------------------------------------------------

def _steps_form(*rows) -> dict:
    form = {}
    for i, (minutes, target, channels) in enumerate(rows):
        form |= {f"step-{i}-minutes": minutes, f"step-{i}-target": target,
                 f"step-{i}-channels": channels}
    return form


def test_esc_01_security_manager_changes_the_trust_default_on_a_page(trust, as_person):
    client = as_person(trust.people["leslie"], verified=True)
    page = client.get("/escalation-policy").content.decode()
    assert "Trust default escalation policy" in page
    assert "Every team that does not have its own steps follows this policy" in page
    assert "they are the ones Lonewatch starts with" in page
    assert "At the deadline" in page and "Save the trust default" in page
    assert "None. Every team follows this policy." in page
    response = client.post("/escalation-policy", _steps_form(
        ("0", "alarm_centre", ["in_app"]), ("10", "senior_manager", ["sms"])))
    assert response.status_code == 302 and response["Location"] == "/escalation-policy"
    assert shape(steps_for(trust.south)) == raw_shape(ALARM_CENTRE)
    page = client.get("/escalation-policy").content.decode()
    assert "Saved." in page and "After 10 minutes: senior manager, by text message" in page
    assert "At the deadline: alarm centre, by a message in Lonewatch" in page
    assert "Lonewatch starts with" not in page


def test_esc_01_mistakes_on_the_default_page_are_shown_in_an_error_summary(trust,
                                                                           as_person):
    client = as_person(trust.people["adam"], verified=True)
    # Row 1 is left empty; the mistake is in row 3, which is the policy's step 2.
    bad = client.post("/escalation-policy", _steps_form(
        ("", "", []), ("10", "buddy", ["sms"]), ("5", "line_manager", ["email"])))
    page = bad.content.decode()
    assert bad.status_code == 400
    assert "nhsuk-error-summary" in page and "There is a problem" in page
    assert ('<a href="#step-2-minutes">Step 3 is earlier than the step above it: the steps '
            'must be in order of minutes after the deadline.</a>') in page
    assert 'id="step-2-error"' in page and "nhsuk-form-group--error" in page
    assert 'value="5"' in page  # what was typed is kept
    no_channel = client.post("/escalation-policy", _steps_form(("0", "buddy", [])))
    assert no_channel.status_code == 400
    assert ('<a href="#step-0-email">Step 1: choose at least one way to tell them.</a>'
            in no_channel.content.decode())
    for minutes in ("soon", "inf", "nan", "-1"):
        response = client.post("/escalation-policy", _steps_form((minutes, "buddy", ["sms"])))
        assert response.status_code == 400, minutes
        assert "enter the minutes after the deadline as a number" in response.content.decode()
    empty = client.post("/escalation-policy", {})
    assert empty.status_code == 400 and "Enter at least one step." in empty.content.decode()
    assert not EscalationPolicy.objects.exists()


def test_esc_01_team_manager_sees_the_default_but_cannot_change_it(trust, as_person):
    client = as_person(trust.people["maria"])
    page = client.get("/escalation-policy").content.decode()
    assert "Trust default escalation policy" in page and "At the deadline" in page
    assert "Save the trust default" not in page
    assert "Only the security manager and administrators can change" in page
    refused = client.post("/escalation-policy", _steps_form(("0", "buddy", ["sms"])))
    assert refused.status_code == 403
    assert not EscalationPolicy.objects.exists()


@pytest.mark.parametrize("actor", ["nina", "claire", "olivia", "anita"])
def test_esc_01_people_without_a_policy_role_cannot_open_the_default(trust, as_person,
                                                                   actor):
    client = as_person(trust.people[actor], verified=True)
    assert client.get("/escalation-policy").status_code == 403
    assert "Trust default escalation policy" not in client.get("/teams/").content.decode()


def test_esc_01_default_page_lists_the_teams_with_their_own_steps(trust, as_person):
    do_set_policy(trust.north, NORTH_OWN, actor=trust.people["maria"].user)
    do_set_policy(trust.cmht, NORTH_OWN, actor=trust.people["marcus"].user)
    leslie = as_person(trust.people["leslie"], verified=True).get(
        "/escalation-policy").content.decode()
    assert "These teams do not follow this policy" in leslie
    assert f'<a href="/teams/{trust.north.pk}/escalation-policy">North</a>' in leslie
    assert f'<a href="/teams/{trust.cmht.pk}/escalation-policy">CMHT</a>' in leslie
    maria = as_person(trust.people["maria"]).get("/escalation-policy").content.decode()
    assert f'<a href="/teams/{trust.north.pk}/escalation-policy">North</a>' in maria
    assert "CMHT" not in maria and "And 1 other team you do not manage." in maria


def test_esc_01_team_page_says_whether_it_follows_the_default(trust, as_person):
    client = as_person(trust.people["maria"])
    url = f"/teams/{trust.north.pk}/escalation-policy"
    page = client.get(url).content.decode()
    assert "North follows the" in page and 'href="/escalation-policy"' in page
    assert "Saving steps here gives North its own steps" in page
    assert "Follow the trust default instead" not in page
    client.post(url, _steps_form(("0", "buddy", ["sms", "in_app"])))
    page = client.get(url).content.decode()
    assert "North has its own steps" in page
    assert "Follow the trust default instead" in page
    assert "own steps above will be deleted" in page
    assert f'action="/teams/{trust.north.pk}/escalation-policy/follow-default"' in page


def test_esc_01_manager_sends_the_team_back_to_the_default_on_a_page(trust, as_person):
    do_set_default_policy(trust.org, CALL_MARIA, actor=trust.people["leslie"].user)
    do_set_policy(trust.north, NORTH_OWN, actor=trust.people["maria"].user)
    client = as_person(trust.people["maria"])
    url = f"/teams/{trust.north.pk}/escalation-policy/follow-default"
    assert client.get(url).status_code == 405  # only a button, never a link, does this
    response = client.post(url, follow=True)
    assert response.redirect_chain == [(f"/teams/{trust.north.pk}/escalation-policy", 302)]
    page = response.content.decode()
    assert "North now follows the trust default escalation policy" in page
    assert "North follows the" in page and "After 1 minute: line manager" in page
    assert shape(steps_for(trust.north)) == raw_shape(CALL_MARIA)
    again = client.post(url, follow=True).content.decode()
    assert "North already follows the trust default" in again
    assert AuditEvent.objects.filter(action="escalation_policy.delete").count() == 1


def test_esc_01_only_the_teams_managers_send_it_back_to_the_default(trust, as_person):
    do_set_policy(trust.north, NORTH_OWN, actor=trust.people["maria"].user)
    url = f"/teams/{trust.north.pk}/escalation-policy/follow-default"
    assert as_person(trust.people["nina"]).post(url).status_code == 404  # not her team
    assert as_person(trust.people["marcus"]).post(url).status_code == 404
    assert as_person(trust.people["claire"]).post(url).status_code == 403  # sees, no right
    assert EscalationPolicy.objects.filter(team=trust.north).exists()


def test_esc_01_team_pages_link_to_the_default(trust, as_person):
    client = as_person(trust.people["maria"])
    assert 'href="/escalation-policy"' in client.get("/teams/").content.decode()
    team = client.get(f"/teams/{trust.north.pk}/").content.decode()
    assert 'href="/escalation-policy"' in team
    assert f'href="/teams/{trust.north.pk}/escalation-policy"' in team


# --- The API ------------------------------------------------------------------------------

def bearer(person: Person) -> dict:
    return {"Authorization": f"Bearer {token_for(person)}"}


def test_esc_01_trust_default_read_and_replaced_through_the_api(client, trust):
    leslie, maria = bearer(trust.people["leslie"]), bearer(trust.people["maria"])
    built_in = client.get("/api/v1/escalation-policy", headers=maria)
    assert built_in.status_code == 200
    assert [(s["after_seconds"], s["notify"]) for s in built_in.json()["steps"]] == [
        (0, "worker"), (300, "buddy"), (900, "line_manager"), (1800, "senior_manager"),
        (2700, "police_advice")]
    new = {"steps": ALARM_CENTRE}
    response = client.put("/api/v1/escalation-policy", new, content_type="application/json",
                          headers=leslie)
    assert response.status_code == 200 and response.json() == new
    assert client.get("/api/v1/escalation-policy", headers=maria).json() == new
    # North has no steps of its own, so it follows the new default.
    assert client.get(f"/api/v1/teams/{trust.north.pk}/escalation-policy",
                      headers=maria).json() == new
    assert AuditEvent.objects.filter(action="escalation_policy.default.update").count() == 1


def test_esc_01_bad_or_forbidden_changes_to_the_default_are_refused(client, trust):
    leslie = bearer(trust.people["leslie"])
    wrong = {"steps": list(reversed(ALARM_CENTRE))}
    response = client.put("/api/v1/escalation-policy", wrong,
                          content_type="application/json", headers=leslie)
    assert response.status_code == 400
    assert response.json()["detail"] == ("The policy is not valid: step 2: steps must be in "
                                         "order of after_seconds")
    empty = client.put("/api/v1/escalation-policy", {"steps": []},
                       content_type="application/json", headers=leslie)
    assert empty.status_code == 400 and "at least one step" in empty.json()["detail"]
    maria = client.put("/api/v1/escalation-policy", {"steps": ALARM_CENTRE},
                       content_type="application/json", headers=bearer(trust.people["maria"]))
    assert maria.status_code == 403
    assert "Only the security manager and administrators" in maria.json()["detail"]
    nina = bearer(trust.people["nina"])
    assert client.get("/api/v1/escalation-policy", headers=nina).status_code == 403
    assert client.put("/api/v1/escalation-policy", {"steps": ALARM_CENTRE},
                      content_type="application/json", headers=nina).status_code == 403
    assert client.get("/api/v1/escalation-policy").status_code == 401
    assert not EscalationPolicy.objects.exists()


def test_esc_01_api_login_without_staff_record_cannot_read_the_default(client, trust):
    stray = User.objects.create_user(username="stray", password="x" * 12)
    _token, raw = do_create_token(stray, name="phone", actor=stray)
    response = client.get("/api/v1/escalation-policy",
                          headers={"Authorization": f"Bearer {raw}"})
    assert response.status_code == 403


def test_esc_01_team_follows_the_default_again_through_the_api(client, trust):
    maria = bearer(trust.people["maria"])
    url = f"/api/v1/teams/{trust.north.pk}/escalation-policy"
    client.put("/api/v1/escalation-policy", {"steps": CALL_MARIA},
               content_type="application/json", headers=bearer(trust.people["leslie"]))
    client.put(url, {"steps": NORTH_OWN}, content_type="application/json", headers=maria)
    assert client.get(url, headers=maria).json() == {"steps": NORTH_OWN}
    assert client.delete(url, headers=bearer(trust.people["marcus"])).status_code == 404
    assert client.delete(url, headers=bearer(trust.people["claire"])).status_code == 403
    response = client.delete(url, headers=maria)
    assert response.status_code == 204 and response.content == b""
    assert client.get(url, headers=maria).json() == {"steps": CALL_MARIA}
    assert client.delete(url, headers=maria).status_code == 204  # already: still 204
    assert AuditEvent.objects.filter(action="escalation_policy.delete").count() == 1


def test_esc_01_policy_endpoints_are_in_the_openapi_schema(client, db):
    paths = client.get("/api/openapi.json").json()["paths"]
    assert set(paths["/api/v1/escalation-policy"]) == {"get", "put"}
    assert set(paths["/api/v1/teams/{team_id}/escalation-policy"]) == {"get", "put",
                                                                      "delete"}
    put = paths["/api/v1/escalation-policy"]["put"]
    # 401 too: without a valid token the API refuses before anything else.
    assert set(put["responses"]) == {"200", "400", "401", "403"}
    assert "204" in paths["/api/v1/teams/{team_id}/escalation-policy"]["delete"]["responses"]


def test_esc_01_default_steps_helper_matches_what_teams_follow(trust):
    assert policy.default_steps(trust.org.pk) == list(DEFAULT_STEPS)
    do_set_default_policy(trust.org, CALL_MARIA, actor=trust.people["leslie"].user)
    assert policy.default_steps(trust.org.pk) == steps_for(trust.south)


def test_esc_01_pages_say_when_each_step_happens_in_words():
    from lonewatch.escalation.policy import Step

    words = [Step(seconds, "buddy", ("sms",)).when for seconds in (0, 60, 150, 900, 61)]
    assert words == ["At the deadline", "After 1 minute", "After 2.5 minutes",
                     "After 15 minutes", "After 1.02 minutes"]
    channels = [Step(0, "buddy", c).channel_labels for c in (
        ("sms",), ("sms", "in_app"), ("push", "sms", "email", "in_app"))]
    assert channels == ["text message", "text message and a message in Lonewatch",
                        "phone notification, text message, email and a message in Lonewatch"]


def test_esc_01_saving_on_the_page_keeps_every_step_the_api_set(trust, as_person):
    """The page offers 8 empty rows, but the API allows 20 steps: a policy with more shows
    them all, and saving it on the page drops none."""
    many = [{"after_seconds": 60 * n, "notify": "buddy", "channels": ["sms"]}
            for n in range(10)]
    do_set_default_policy(trust.org, many, actor=trust.people["leslie"].user)
    client = as_person(trust.people["adam"], verified=True)
    page = client.get("/escalation-policy").content.decode()
    assert 'id="step-9-minutes"' in page and 'id="step-10-minutes"' not in page
    response = client.post("/escalation-policy", _steps_form(
        *[(str(n), "buddy", ["sms"]) for n in range(9)], ("10", "line_manager", ["email"])))
    assert response.status_code == 302
    assert len(steps_for(trust.south)) == 10
    assert steps_for(trust.south)[-1].target == "line_manager"
