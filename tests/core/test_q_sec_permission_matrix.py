"""Q-SEC, ORG-02: deny by default, checked over everything registered.

These tests are generated from what the code declares, not written per page: every
kind of record the apps declare to the permission engine, and every URL route. A new
kind without a rule, or a new route that answers someone it should not, fails here.
The hand-written expectations of what each role may do are in test_org_02_permissions.
"""

import re
import uuid
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import URLResolver, get_resolver

from lonewatch import clock
from lonewatch.accounts.actions import do_create_token
from lonewatch.accounts.models import User
from lonewatch.alarms import actions as alarms
from lonewatch.core import permissions as perms
from lonewatch.escalation import actions as escalation
from lonewatch.governance import actions as governance
from lonewatch.letters.models import Letter
from lonewatch.markers import actions as markers
from lonewatch.org.actions import do_add_absence, do_add_next_of_kin
from lonewatch.org.models import Organisation, Person, RoleMembership
from lonewatch.org.roles import Role, Scope
from lonewatch.recordings import actions as recordings
from lonewatch.visits import actions as plans
from tests.conftest import login

# Routes anyone may call without signing in, each for a reason of its own.
PUBLIC = {
    "login": "the sign-in page",
    "logout": "signing out",
    "two_factor_enrol_link": "a signed, single-use enrolment link, checked by the view",
    "healthz": "the load balancer's health check (no data)",
    "manifest": "the web app manifest",
    "service_worker": "the push service worker",
    "channel_confirm": "a test message's confirmation link (its unguessable key)",
    "notify_callback": "GOV.UK Notify's delivery receipts (their own bearer secret)",
    "openapi-json": "the API's description",
    "openapi-view": "the API's documentation page",
    "api-root": "the API's index",
    "password_reset": "asking for a password reset link (same answer for every address)",
    "password_reset_done": "the page after asking",
    "password_reset_confirm": "a signed, single-use reset link, checked by the view",
    "password_reset_complete": "the page after setting a password",
    "police_link": "a police officer's link to a recording (its unguessable secret, "
                   "checked by the view)",
    "police_download": "a download through that link (the same secret)",
}
# Answers that say "no" (or "not like that") without doing anything.
REFUSALS = {302, 400, 401, 403, 404, 405, 409, 413, 415, 422}


def routes():
    """(path pattern, route name) of every route, API included."""
    def walk(patterns, prefix=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif pattern.name:
                yield prefix + str(pattern.pattern), pattern.name

    return sorted(set(walk(get_resolver().url_patterns)))


def test_q_sec_every_kind_and_action_has_a_rule():
    """A kind (or an action on it) that nobody may use is a declaration that forgot its
    grants: it fails here rather than leaving a page nobody can open."""
    granted = set(perms.self_grants())
    for role in Role.values:
        granted |= perms.role_grants(role)
    for relation in perms.relations().values():
        granted |= relation.grants
    kinds = perms.kinds()
    assert kinds, "no kind is registered"
    missing = [f"{name}:{action}" for name, kind in kinds.items() for action in kind.actions
               if (name, action) not in granted]
    assert not missing, f"kinds with no rule: {missing}"


def test_q_sec_every_record_is_placed_in_its_organisation(trust):
    """Every declared record model says where its records sit (the organisation check
    comes first in every decision)."""
    for model, record in perms.records().items():
        obj = model.objects.first()
        if obj is not None:
            assert record.reach(obj).organisation_id == trust.org.pk, model.__name__


@pytest.fixture
def records(trust, start_session, at, settings):
    """One of every record a route names by id, all in the test trust."""
    settings.ALARM_STREAM_SECONDS = 0
    at(minutes=0)
    nina = trust.people["nina"]
    session = start_session(interval=600)
    at(minutes=10)
    escalation.start_due()
    alarm = alarms.do_raise(nina, actor=nina.user, kind="red")
    absence = do_add_absence(nina, reason="leave", starts_at=clock.now() + timedelta(days=3),
                             ends_at=clock.now() + timedelta(days=4), actor=nina.user)
    kin = do_add_next_of_kin(nina, actor=nina.user, name="Piotr", relationship="Husband",
                             phone="+447700900911")
    token = do_create_token(nina.user, name="phone", actor=nina.user)[0]
    # A case with a hold and a letter: a genuine alarm of Nina's closed safely.
    leslie = trust.people["leslie"].user
    alarm.cancel_until = None
    alarm.save(update_fields=["cancel_until"])
    alarms.do_acknowledge(alarm, actor=trust.people["olivia"].user)
    alarms.do_close(alarm, actor=trust.people["olivia"].user, category="genuine_closed_safely")
    hold = recordings.do_place_hold(recordings.recording_of(alarm), actor=leslie,
                                    reason="court_case", detail="Crown Court T1")
    recordings.do_decide_review(alarm.review, actor=leslie, decision="notification_letter",
                                recipient_name="Mr Smith", recipient_address="4 Mill Lane")
    letter = Letter.objects.get()
    recording = recordings.recording_of(alarm)
    police = recordings.do_request_access(recording, actor=leslie, officer="PC 1 Smith",
                                          force="Norfolk", crime_reference="NC/1",
                                          reason="Assault")
    sar = recordings.do_log_subject_access(recording, actor=leslie, requester="Nina",
                                           received_on=clock.now().date())
    marker = markers.do_add_marker(trust.org, actor=leslie, category="weapons",
                                   nature="Air rifle", advice="Ask", source="Police",
                                   review_on=clock.now().date() + timedelta(days=30),
                                   nhs_number="9434765919")
    visit = plans.do_plan_visit(nina, actor=nina.user, address="3 Low Road",
                                postcode="PE13 1AB", planned_start=clock.now(),
                                planned_end=clock.now() + timedelta(hours=1),
                                buddy=trust.people["ben"])[0]
    maria = trust.people["maria"]
    activities = governance.draft_of(trust.north, actor=maria.user)
    activity = governance.do_add_activity(
        activities, actor=maria.user, title="Home visits",
        risks=[{"risk_type": "physical_assault", "description": "Unknown patients"}])
    risk = governance.do_add_risk(
        trust.org, actor=maria.user, level="team", team=trust.north, title="Dark car park",
        description="Leaving late", owner=maria, review_on=clock.now().date() + timedelta(
            days=30), scores={f"{w}_{p}": 2 for w in ("initial", "current", "target")
                              for p in ("likelihood", "consequence")})
    sop = governance.do_start_sop(trust.north, actor=maria.user)
    return {"person_id": nina.pk, "team_id": trust.north.pk, "session_id": session.pk,
            "sop_id": sop.pk,
            "visit_id": visit.pk, "submission_id": activities.pk, "activity_id": activity.pk,
            "risk_id": risk.pk, "report_id": governance.do_start_assurance(
                trust.org, actor=leslie, period_start=clock.now().date() - timedelta(
                    days=180), period_end=clock.now().date()).pk,
            "request_id": governance.do_request_review(
                trust.org, subject="risk", risk=risk, reason="After an incident").pk,
            "provision_id": governance.do_request_provision(
                trust.north, actor=maria.user, service_user="SU-1", address="1 Low Road",
                why_care_continues="Depot", mdt_date=clock.now().date(),
                mdt_attendees="MDT", mdt_outcome="Agreed", starts_on=clock.now().date(),
                ends_on=clock.now().date() + timedelta(days=14)).pk,
            "escalation_id": session.escalations.get().pk, "alarm_id": alarm.pk,
            "absence_id": absence.pk, "kin_id": kin.pk, "token_id": token.pk,
            "hold_id": hold.pk, "letter_id": letter.pk, "access_id": police.pk, "sar_id": sar.pk,
            "review_id": alarm.review.pk, "marker_id": marker.pk,
            "verdict": "approve", "secret": "not-a-link", "take": 1,
            "kind": "red", "action": "acknowledge", "key": str(uuid.uuid4()),
            "token": "not-a-link", "uidb64": "MQ", "rest": "",
            "column": "red_alerts"}


def _url(pattern: str, values: dict) -> str:
    def fill(match):
        return str(values[match.group("name")])

    path = re.sub(r"<(?:\w+:)?(?P<name>\w+)>", fill, pattern)
    return "/" + path.lstrip("^").rstrip("$")


def _calls(pattern, values):
    url = _url(pattern, values)
    for method in ("get", "post", "put", "delete"):
        yield method, url


@pytest.mark.django_db
def test_q_sec_every_route_refuses_someone_who_has_not_signed_in(records):
    anonymous = Client()
    answered, calls = [], 0
    for pattern, name in routes():
        if name in PUBLIC or pattern.startswith("^api"):
            continue
        for method, url in _calls(pattern, records):
            response = getattr(anonymous, method)(url)
            calls += 1
            if response.status_code not in REFUSALS:
                answered.append(f"{method.upper()} {url} ({name}): {response.status_code}")
            elif response.status_code == 302:
                assert "/login" in response["Location"], f"{url} sends to {response['Location']}"
    assert calls > 300, calls
    assert not answered, "routes that answered without sign-in:\n" + "\n".join(answered)


@pytest.fixture
def outsider(db):
    """Someone of another trust holding every role over the whole of it, second factor
    and privileged token included: they must reach nothing of the test trust."""
    elsewhere = Organisation.objects.create(name="Elsewhere Trust")
    user = User.objects.create_user(username="outsider", password="x" * 16)
    person = Person.objects.create(user=user, organisation=elsewhere, full_name="Outsider")
    for role in Role.values:
        RoleMembership.objects.create(person=person, role=role, scope=Scope.ORGANISATION)
    web = login(Client(), person, verified=True)
    raw = do_create_token(user, name="desk", actor=user, privileged=True)[1]
    return web, {"Authorization": f"Bearer {raw}"}


@pytest.mark.django_db
def test_q_sec_no_route_reaches_another_trusts_record_by_its_id(records, outsider):
    web, headers = outsider
    reached, calls = [], 0
    for pattern, name in routes():
        if name in PUBLIC or not re.search(r"<(?:\w+:)?(\w+_id|key)>", pattern):
            continue
        for method, url in _calls(pattern, records):
            client_headers = headers if url.startswith("/api/") else {}
            response = getattr(web, method)(url, headers=client_headers,
                                             content_type="application/json")
            calls += 1
            if response.status_code not in REFUSALS - {302}:
                reached.append(f"{method.upper()} {url} ({name}): {response.status_code}")
    assert calls > 150, calls
    assert not reached, "routes that reached another trust's records:\n" + "\n".join(reached)
