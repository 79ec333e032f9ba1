"""RSK-06: review reminders with a controlled clock (a month before, then weekly while
overdue) and out-of-cycle review requests from another part of Lonewatch, tracked until
done. RSK-07: external security provision cannot become active without an executive's
own sign-off, is short term, reminds before it ends and ends on its date."""

from datetime import date, timedelta

import pytest
from django.core.exceptions import PermissionDenied

from lonewatch import clock
from lonewatch.core import hooks
from lonewatch.governance import actions
from lonewatch.governance.models import ReviewRequest, SecurityProvision
from lonewatch.notify.models import Delivery
from lonewatch.org.roles import Role

pytestmark = pytest.mark.django_db


def _told(person, purpose):
    return Delivery.objects.filter(recipient=person, purpose=purpose, channel="in_app")


def _risk(trust, review_in_days):
    leslie = trust.people["leslie"]
    scores = {f"{w}_{p}": 3 for w in ("initial", "current", "target")
              for p in ("likelihood", "consequence")}
    return actions.do_add_risk(
        trust.org, actor=leslie.user, level="organisation", lone_working=True,
        title="Harm to lone workers", description="x", owner=leslie,
        review_on=date.today() + timedelta(days=review_in_days), scores=scores)


def test_rsk_06_owners_are_reminded_before_a_review_and_weekly_while_overdue(
        trust, time_machine):
    time_machine.move_to(clock.now(), tick=False)
    leslie = trust.people["leslie"]
    _risk(trust, review_in_days=45)
    assert actions.remind_reviews() == 0
    time_machine.move_to(clock.now() + timedelta(days=15), tick=False)  # 30 days before
    assert actions.remind_reviews() == 1
    assert "is due on" in _told(leslie, "governance_review_due").get().body
    assert actions.remind_reviews() == 0
    time_machine.move_to(clock.now() + timedelta(days=31), tick=False)  # overdue
    assert actions.remind_reviews() == 1
    assert _told(leslie, "governance_review_due").last().subject.startswith(
        "Review overdue")
    time_machine.move_to(clock.now() + timedelta(days=3), tick=False)
    assert actions.remind_reviews() == 0
    time_machine.move_to(clock.now() + timedelta(days=4), tick=False)
    assert actions.remind_reviews() == 1


def test_rsk_06_another_part_of_lonewatch_asks_for_a_review_tracked_until_done(trust):
    risk = _risk(trust, review_in_days=200)
    hooks.review_requested(trust.org.pk, subject="risk", risk_id=risk.pk,
                           reason="An assault showed the buddy check fails at night",
                           source="Incident review 41")
    request = ReviewRequest.objects.get()
    assert (request.source, request.done_at) == ("Incident review 41", None)
    assert "Incident review 41" in _told(trust.people["leslie"], "review_requested").get().body
    hooks.review_requested(trust.org.pk, subject="sop", team_id=trust.north.pk,
                           reason="New policy on evening clinics", source="Policy v6.1")
    assert _told(trust.people["maria"], "review_requested").count() == 1
    with pytest.raises(PermissionDenied):
        actions.do_close_review_request(request, actor=trust.people["maria"].user)
    done = actions.do_close_review_request(request, actor=trust.people["leslie"].user)
    assert done.done_at is not None
    with pytest.raises(actions.GovernanceConflict):
        actions.do_close_review_request(done, actor=trust.people["leslie"].user)
    with pytest.raises(actions.GovernanceError, match="Name the risk"):
        actions.do_request_review(trust.org, subject="risk", reason="x")


def _provision(trust, **changes):
    values = {"service_user": "SU-2291", "address": "7 Elm Close, March",
              "why_care_continues": "Depot injection; cannot be given elsewhere",
              "mdt_date": date.today() - timedelta(days=2),
              "mdt_attendees": "Consultant, CMHT manager, LSMS",
              "mdt_outcome": "No alternative venue; security presence for 4 weeks",
              "starts_on": date.today(), "ends_on": date.today() + timedelta(days=28)}
    return actions.do_request_provision(trust.cmht, actor=trust.people["marcus"].user,
                                        **(values | changes))


def test_rsk_07_security_provision_needs_an_executives_own_sign_off(trust):
    trust.person("fiona", None, [Role.EXECUTIVE])
    provision = _provision(trust)
    assert provision.state == "requested"
    assert _told(trust.people["fiona"], "provision_sign_off").count() == 1
    for not_executive in ("leslie", "anita", "marcus", "claire"):
        with pytest.raises(PermissionDenied):
            actions.do_sign_off_provision(provision, actor=trust.people[not_executive].user,
                                          approve=True)
    provision.refresh_from_db()
    assert provision.state == "requested" and provision.signed_off_by is None
    with pytest.raises(actions.GovernanceError, match="note"):
        actions.do_sign_off_provision(provision, actor=trust.people["fiona"].user,
                                      approve=False)
    active = actions.do_sign_off_provision(provision, actor=trust.people["fiona"].user,
                                           approve=True, note="Agreed for 4 weeks")
    assert (active.state, active.signed_off_by) == ("active", trust.people["fiona"].user)


@pytest.mark.parametrize(("changes", "words"), [
    ({"mdt_date": date.today() + timedelta(days=1)}, "must have taken place"),
    ({"ends_on": date.today() + timedelta(days=120)}, "at most 90 days"),
    ({"ends_on": date.today() - timedelta(days=1),
      "starts_on": date.today() - timedelta(days=5)}, "already past"),
    ({"mdt_outcome": " "}, "mdt outcome"),
])
def test_rsk_07_a_provision_is_short_term_after_an_mdt_meeting(trust, changes, words):
    with pytest.raises(actions.GovernanceError, match=words):
        _provision(trust, **changes)
    assert not SecurityProvision.objects.exists()


def test_rsk_07_an_active_provision_reminds_before_its_end_and_ends(trust, time_machine):
    time_machine.move_to(clock.now(), tick=False)
    trust.person("fiona", None, [Role.EXECUTIVE])
    provision = actions.do_sign_off_provision(
        _provision(trust), actor=trust.people["fiona"].user, approve=True)
    assert actions.end_provisions() == 0
    time_machine.move_to(clock.now() + timedelta(days=21), tick=False)
    assert actions.end_provisions() == 1
    assert _told(trust.people["marcus"], "provision_ending").count() == 1
    time_machine.move_to(clock.now() + timedelta(days=7), tick=False)
    assert actions.end_provisions() == 1
    provision.refresh_from_db()
    assert provision.state == "ended"


def test_rsk_07_over_the_api_the_sign_off_is_the_executives(trust):
    from django.test import Client

    from tests.conftest import bearer, post
    trust.person("fiona", None, [Role.EXECUTIVE])
    body = {"service_user": "SU-2291", "address": "7 Elm Close, March",
            "why_care_continues": "Depot injection", "mdt_date": str(date.today()),
            "mdt_attendees": "Consultant, LSMS", "mdt_outcome": "No alternative",
            "starts_on": str(date.today()),
            "ends_on": str(date.today() + timedelta(days=14))}
    made = post(Client(), f"/api/v1/teams/{trust.cmht.pk}/security-provisions",
                bearer(trust.people["marcus"]), body)
    assert made.status_code == 201 and made.json()["state"] == "requested"
    url = f"/api/v1/security-provisions/{made.json()['id']}/sign-off"
    assert post(Client(), url, bearer(trust.people["leslie"]),
                {"approve": True}).status_code == 403
    signed = post(Client(), url, bearer(trust.people["fiona"]), {"approve": True})
    assert signed.status_code == 200 and signed.json()["state"] == "active"
    assert post(Client(), url, bearer(trust.people["fiona"]),
                {"approve": True}).status_code == 409
    assert Client().get("/api/v1/security-provisions",
                        headers=bearer(trust.people["nina"])).json() == []


def test_rsk_07_on_the_page_a_manager_asks_and_the_executive_signs_off(trust, client):
    trust.person("fiona", None, [Role.EXECUTIVE])
    client.force_login(trust.people["marcus"].user)
    asked = client.post("/security-provision/ask", {
        "team": trust.cmht.pk, "service_user": "SU-2291", "address": "7 Elm Close",
        "why_care_continues": "Depot injection", "mdt_date": str(date.today()),
        "mdt_attendees": "Consultant, LSMS", "mdt_outcome": "No alternative",
        "starts_on": str(date.today()), "ends_on": str(date.today() + timedelta(days=14))})
    assert asked.status_code == 302, asked.content.decode()[:3000]
    provision = SecurityProvision.objects.get()
    page = client.get("/security-provision/").content.decode()
    assert "Waiting for executive sign-off" in page and "Sign it off" not in page
    client.force_login(trust.people["fiona"].user)
    assert "Sign it off" in client.get("/security-provision/").content.decode()
    client.post(f"/security-provision/{provision.pk}/sign-off", {"decision": "approve"})
    provision.refresh_from_db()
    assert provision.state == "active"
    client.force_login(trust.people["nina"].user)
    assert client.get("/security-provision/").status_code == 403
