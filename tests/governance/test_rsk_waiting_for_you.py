"""RSK-01, RSK-04, RSK-06, RSK-07: whoever must act next is told (in the app and by email)
and finds it under "Waiting for you" on their home page: the directorate lead a list of
activities or an SOP to decide, the team manager what came back, an executive a security
provision to sign off, an owner an out-of-cycle review. Nobody else sees it."""

from datetime import date, timedelta

import pytest

from lonewatch.core import hooks
from lonewatch.governance import actions, waiting
from lonewatch.governance.models import Theme
from lonewatch.notify.models import Delivery
from lonewatch.org.roles import Role
from tests.conftest import login

pytestmark = pytest.mark.django_db


def _told(person, purpose):
    return Delivery.objects.filter(recipient=person, purpose=purpose)


def _titles(person) -> list[str]:
    return [w.title for w in waiting.waiting_for(person.user)]


def _submitted(trust):
    maria = trust.people["maria"].user
    draft = actions.draft_of(trust.north, actor=maria)
    actions.do_add_activity(draft, actor=maria, title="Evening visits", people=[
        trust.people["nina"]], risks=[{"risk_type": "verbal_abuse", "description": "x"}])
    return actions.do_submit(draft, actor=maria)


def test_rsk_01_the_directorate_lead_is_told_of_a_list_to_review_and_the_manager_of_the_answer(
        trust, client):
    maria, claire, marcus = (trust.people[n] for n in ("maria", "claire", "marcus"))
    submission = _submitted(trust)
    told = _told(claire, "activities_submitted")
    assert {d.channel for d in told} == {"in_app", "email"}
    assert "North's lone-working activities wait for your review" in told.first().subject
    assert not _told(marcus, "activities_submitted").exists()  # another directorate's
    assert _titles(claire) == ["Review North's lone-working activities"]
    assert _titles(marcus) == [] and _titles(trust.people["nina"]) == []
    assert _titles(trust.people["leslie"]) == []  # reads every list, decides none
    login(client, claire)
    page = client.get("/").content.decode()
    assert "Waiting for you" in page and "Review North&#x27;s lone-working activities" in page

    actions.do_review(submission, actor=claire.user, accept=False,
                      comments="Name who does the weekend visits.")
    answer = _told(maria, "activities_decided").get(channel="email")
    assert "returned" in answer.subject and "Name who does the weekend visits." in answer.body
    assert _titles(claire) == []
    assert _titles(maria) == ["Change North's lone-working activities"]
    actions.do_submit(submission, actor=maria.user)
    actions.do_review(submission, actor=claire.user, accept=True)
    assert "accepted" in _told(maria, "activities_decided").last().subject
    assert _titles(maria) == [] and _titles(claire) == []
    leslie = trust.people["leslie"]  # the accepted risk is for the thematic analysis
    assert _titles(leslie) == ["File 1 accepted risk under a theme"]
    theme = actions.do_save_theme(trust.org, actor=leslie.user, title="Abuse at the door",
                                  risk_type="verbal_abuse")
    actions.do_file_under(list(actions.accepted_risks(trust.org.pk)), theme, actor=leslie.user)
    assert _titles(leslie) == []


def test_rsk_04_an_sop_waits_for_its_directorate_lead_and_comes_back_to_its_manager(trust):
    maria, claire = trust.people["maria"], trust.people["claire"]
    theme = actions.do_save_theme(trust.org, actor=trust.people["leslie"].user,
                                  title="Assault on a home visit", risk_type="physical_assault")
    sop = actions.do_start_sop(trust.north, actor=maria.user)
    actions.do_edit_sop(sop, actor=maria.user, themes=[theme], local_arrangements="Pairs")
    actions.do_submit_sop(sop, actor=maria.user)
    assert _told(claire, "sop_submitted").count() == 2  # in the app and by email
    assert _titles(claire) == ["Approve North's SOP"]
    actions.do_approve_sop(sop, actor=claire.user, approve=False, comments="Add the keys.")
    assert _titles(maria) == ["Change North's SOP"] and _titles(claire) == []
    assert "Add the keys." in _told(maria, "sop_decided").get(channel="in_app").body
    actions.do_submit_sop(sop, actor=maria.user)
    actions.do_approve_sop(sop, actor=claire.user, approve=True)
    assert "approved" in _told(maria, "sop_decided").last().subject
    assert _titles(maria) == [] and _titles(claire) == []
    assert Theme.objects.count() == 1


def test_rsk_07_rsk_06_an_executive_sees_the_provision_to_sign_and_owners_their_reviews(
        trust):
    fiona = trust.person("fiona", None, [Role.EXECUTIVE])
    marcus = trust.people["marcus"]
    actions.do_request_provision(
        trust.cmht, actor=marcus.user, service_user="SU-2291", address="7 Elm Close, March",
        why_care_continues="Depot injection", mdt_date=date.today() - timedelta(days=2),
        mdt_attendees="Consultant, CMHT manager, LSMS", mdt_outcome="Security for 4 weeks",
        starts_on=date.today(), ends_on=date.today() + timedelta(days=28))
    assert _titles(fiona) == ["Sign off security provision for CMHT"]
    assert _titles(marcus) == []  # asked for it; cannot sign it off
    hooks.review_requested(trust.org.pk, subject="sop", team_id=trust.cmht.pk,
                           reason="An assault showed the night cover fails",
                           source="Incident review 41")
    assert _titles(marcus) == ["Out-of-cycle review: CMHT's SOP"]
    assert "Out-of-cycle review: CMHT's SOP" not in _titles(trust.people["maria"])


def test_rsk_01_the_lead_reviewing_a_new_version_sees_what_changed(trust, client):
    maria, claire = trust.people["maria"], trust.people["claire"]
    actions.do_review(_submitted(trust), actor=claire.user, accept=True)
    second = actions.draft_of(trust.north, actor=maria.user)
    actions.do_remove_activity(second.activities.get(title="Evening visits"),
                               actor=maria.user)
    actions.do_add_activity(second, actor=maria.user, title="Weekend visits",
                            people=[trust.people["ben"]],
                            risks=[{"risk_type": "animals", "description": "Dogs"}])
    actions.do_submit(second, actor=maria.user)
    login(client, claire)
    page = client.get(f"/teams/{trust.north.pk}/activities/").content.decode()
    assert "Weekend visits <strong class=\"nhsuk-tag nhsuk-tag--blue\">New in this version" \
        in page
    assert "Taken out since version 1: Evening visits." in page
