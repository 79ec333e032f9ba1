"""PRE-04, ORG-04: a high-risk visit cannot start as a lone visit. POST /api/v1/sessions
answers 409 with the reasons and the ways out; each way out lets it start: a companion
recorded, a neutral or secure venue, a manager's exception (written reason, audited; not
the worker's own), and rescheduling moves it. The place's history (a withdrawal, a red
alert) counts; a high-risk visit's interval is shortened per category; a person marked
unable to work alone by occupational health cannot start any session."""

from datetime import date, timedelta

import pytest
from django.test import Client

from lonewatch import clock
from lonewatch.alarms import actions as alarms
from lonewatch.core.models import AuditEvent
from lonewatch.markers import actions as markers
from lonewatch.org import actions as org
from lonewatch.visits import actions
from lonewatch.visits.models import PlannedVisit, Session
from tests.conftest import bearer, post

pytestmark = pytest.mark.django_db

NHS = "9434765919"


def _marker(trust, **fields):
    values = {"category": "violent_patient_indicator", "nature": "Threatened staff with a "
              "knife", "advice": "Visit in pairs", "source": "IR-2291",
              "review_on": date.today() + timedelta(days=90), "nhs_number": NHS} | fields
    return markers.do_add_marker(trust.org, actor=trust.people["leslie"].user, **values)


def _session_body(trust, **extra):
    now = clock.now()
    return {"kind": "visit", "address": "12 Acacia Avenue", "postcode": "PE13 1AB",
            "nhs_number": "943 476 5919", "planned_start": now.isoformat(),
            "planned_end": (now + timedelta(hours=1)).isoformat(),
            "buddy_id": trust.people["ben"].pk, "interval_seconds": 3600} | extra


@pytest.fixture
def risky(trust, nina_ready, settings):
    settings.MIN_CHECKIN_INTERVAL_SECONDS = 60
    _marker(trust)
    return bearer(nina_ready)


def test_pre_04_a_high_risk_lone_visit_answers_409_with_the_reasons(trust, risky):
    refused = post(Client(), "/api/v1/sessions", risky, _session_body(trust))
    assert refused.status_code == 409, refused.content
    body = refused.json()
    assert body["reasons"] == ["Violent patient indicator: Threatened staff with a knife"]
    assert body["requires"] == ["accompanied", "neutral_location", "reschedule",
                                "manager_exception"]
    assert "cannot start as a lone visit" in body["detail"]
    assert not Session.objects.exists()
    # A shift or a journey is not a visit to the person.
    shift = post(Client(), "/api/v1/sessions", risky, _session_body(trust, kind="shift"))
    assert shift.status_code == 201


@pytest.mark.parametrize("way", [
    {"companion": "colleague", "companion_name": "Ben Jones"},
    {"companion": "security", "companion_name": "Officer Patel"},
    {"companion": "police", "companion_name": "PC 4411, Cambs"},
    {"venue": "neutral", "address": "Wisbech Library meeting room"},
    {"venue": "secure", "address": "Clarkson Clinic"},
])
def test_pre_04_each_way_out_lets_the_visit_start_with_a_shorter_interval(trust, risky,
                                                                          way):
    started = post(Client(), "/api/v1/sessions", risky, _session_body(trust, **way))
    assert started.status_code == 201, started.content
    session = Session.objects.get()
    # PRE-04: a violent patient indicator allows at most 15 minutes between check-ins.
    assert (session.risk, session.interval_seconds) == ("high", 15 * 60)
    assert started.json()["venue"] == way.get("venue", "home")


def test_pre_04_the_interval_is_configured_per_category(trust, nina_ready, settings):
    settings.MIN_CHECKIN_INTERVAL_SECONDS = 60
    settings.HIGH_RISK_CHECKIN_MINUTES = settings.HIGH_RISK_CHECKIN_MINUTES | {
        "aggressive_animals": 40}
    _marker(trust, category="aggressive_animals", nature="Two dogs", nhs_number="",
            postcode="PE13 1AB", house="12")
    started = post(Client(), "/api/v1/sessions", bearer(nina_ready), _session_body(
        trust, nhs_number="", companion="colleague", companion_name="Ben"))
    assert started.status_code == 201
    assert Session.objects.get().interval_seconds == 40 * 60
    low = actions.check_interval(3600)
    assert low == 3600  # a low-risk visit keeps the interval chosen


def test_pre_04_a_managers_exception_lets_a_planned_visit_start_alone(trust, risky):
    now = clock.now()
    planned = post(Client(), "/api/v1/visits", risky, {
        "address": "12 Acacia Avenue", "postcode": "PE13 1AB", "nhs_number": NHS,
        "planned_start": now.isoformat(), "planned_end": (now + timedelta(hours=1)).isoformat(),
        "buddy_id": trust.people["ben"].pk})
    assert planned.status_code == 201 and planned.json()["risk"] == "high"
    visit_id = planned.json()["id"]
    refused = post(Client(), f"/api/v1/visits/{visit_id}/start", risky)
    assert refused.status_code == 409 and refused.json()["requires"]
    # Not the worker, nor the buddy, nor a manager elsewhere: the line manager.
    reason = {"reason": "Clinical need: depot injection due; police aware, patient calm"}
    assert post(Client(), f"/api/v1/visits/{visit_id}/exception", risky,
                reason).status_code == 403
    assert post(Client(), f"/api/v1/visits/{visit_id}/exception",
                bearer(trust.people["ben"]), reason).status_code == 403
    assert post(Client(), f"/api/v1/visits/{visit_id}/exception",
                bearer(trust.people["marcus"]), reason).status_code == 404
    short = post(Client(), f"/api/v1/visits/{visit_id}/exception",
                 bearer(trust.people["maria"]), {"reason": "ok"})
    assert short.status_code == 400
    approved = post(Client(), f"/api/v1/visits/{visit_id}/exception",
                    bearer(trust.people["maria"]), reason)
    assert approved.status_code == 200, approved.content
    event = AuditEvent.objects.get(action="visit.exception")
    assert event.actor == trust.people["maria"].user and "depot" in str(event.changes)
    started = post(Client(), f"/api/v1/visits/{visit_id}/start", risky)
    assert started.status_code == 201, started.content


def test_pre_04_rescheduling_moves_the_visit_and_a_neutral_venue_lets_it_start(trust,
                                                                             risky):
    now = clock.now()
    visit, risk = actions.do_plan_visit(
        trust.people["nina"], actor=trust.people["nina"].user, address="12 Acacia Avenue",
        postcode="PE13 1AB", nhs_number=NHS, planned_start=now,
        planned_end=now + timedelta(hours=1), buddy=trust.people["ben"])
    assert risk.high
    later = now + timedelta(days=1)
    moved = post(Client(), f"/api/v1/visits/{visit.pk}/move", risky,
                 {"planned_start": later.isoformat()})
    assert moved.status_code == 200 and moved.json()["precheck"]["risk"] == "high"
    assert PlannedVisit.objects.get().prompt_at == later
    neutral = post(Client(), f"/api/v1/visits/{visit.pk}/move", risky,
                   {"planned_start": now.isoformat(), "venue": "neutral",
                    "address": "Wisbech Library, meeting room 2"})
    assert neutral.status_code == 200
    assert post(Client(), f"/api/v1/visits/{visit.pk}/start", risky).status_code == 201


def test_pre_04_the_places_history_counts(trust, nina_ready, start_session):
    ben = trust.people["ben"]
    ben.buddy, ben.buddy_accepted_at = trust.people["nina"], clock.now()
    ben.save()
    session = start_session(address="7 Mill Lane", postcode="PE13 2XY", kind="visit")
    actions.do_withdraw(session, actor=nina_ready.user)
    actions.do_end_session(session, actor=nina_ready.user, pin="2468")
    check = markers.precheck(trust.org.pk, actor=ben.user, postcode="pe13 2xy",
                             address="7, Mill Lane")
    assert check.risk == "high" and check.reasons[0].startswith(
        "A worker withdrew from a visit here on")
    other_flat = markers.precheck(trust.org.pk, actor=ben.user, postcode="PE13 2XY",
                                  address="Flat 1, 7 Mill Lane")
    assert other_flat.risk == "low"


def test_pre_04_a_red_alert_at_the_place_counts_but_not_a_false_alarm(trust, nina_ready,
                                                                      start_session):
    start_session(address="7 Mill Lane", postcode="PE13 2XY", kind="visit")
    alarm = alarms.do_raise(nina_ready, actor=nina_ready.user, kind="red")
    ben = trust.people["ben"]
    check = markers.precheck(trust.org.pk, actor=ben.user, postcode="PE13 2XY",
                             address="7 Mill Lane")
    assert check.risk == "high" and "A red alert was raised here" in check.reasons[0]
    olivia = trust.people["olivia"]
    alarms.do_duty(olivia, on=True, actor=olivia.user)
    alarms.do_acknowledge(alarm, actor=olivia.user)
    alarms.do_close(alarm, actor=olivia.user, category="false_alarm", worker_agreed=True)
    assert markers.precheck(trust.org.pk, actor=ben.user, postcode="PE13 2XY",
                            address="7 Mill Lane").risk == "low"


def test_org_04_occupational_health_blocks_every_lone_session(trust, nina_ready):
    org.do_set_fitness(nina_ready, unable=True, review=date.today() + timedelta(days=30),
                       actor=trust.people["helen"].user)
    refused = post(Client(), "/api/v1/sessions", bearer(nina_ready),
                   _session_body(trust, kind="shift", nhs_number=""))
    assert refused.status_code == 400
    assert "Occupational health has advised" in refused.json()["detail"]
    now = clock.now()
    visit, _ = actions.do_plan_visit(
        nina_ready, actor=nina_ready.user, address="1 Low Road", postcode="PE13 1AB",
        planned_start=now, planned_end=now + timedelta(hours=1), buddy=trust.people["ben"])
    assert post(Client(), f"/api/v1/visits/{visit.pk}/start",
                bearer(nina_ready)).status_code == 400
    assert not Session.objects.exists()


def test_pre_04_recording_who_goes_along_lets_a_planned_visit_start(trust, risky):
    now = clock.now()
    visit, _ = actions.do_plan_visit(
        trust.people["nina"], actor=trust.people["nina"].user, address="12 Acacia Avenue",
        postcode="PE13 1AB", nhs_number=NHS, planned_start=now,
        planned_end=now + timedelta(hours=1), buddy=trust.people["ben"])
    assert not visit.may_go_alone
    nameless = post(Client(), f"/api/v1/visits/{visit.pk}/company", risky,
                    {"companion": "security"})
    assert nameless.status_code == 400 and "Say who goes with you" in nameless.json()["detail"]
    recorded = post(Client(), f"/api/v1/visits/{visit.pk}/company", risky,
                    {"companion": "security", "companion_name": "Officer Patel"})
    assert recorded.status_code == 200, recorded.content
    assert recorded.json()["companion"] == "security"
    started = post(Client(), f"/api/v1/visits/{visit.pk}/start", risky)
    assert started.status_code == 201, started.content
    assert started.json()["companion_name"] == "Officer Patel"


def test_pre_04_mov_04_a_duress_alarm_counts_for_others_but_not_on_the_workers_own_account(
        trust, desk, nina_ready, start_session):
    """Side by side: the same visit ended with the PIN and with the duress PIN. The place's
    history tells Ben of the silent alarm; Nina's own account reads the place as if the
    visit had ended normally."""
    normal = start_session(address="7 Mill Lane", postcode="PE13 2XY", kind="visit")
    actions.do_end_session(normal, actor=nina_ready.user, pin="2468")
    as_normal = markers.precheck(trust.org.pk, actor=nina_ready.user, postcode="PE13 2XY",
                                 address="7 Mill Lane")
    forced = start_session(address="9 Mill Lane", postcode="PE13 2XY", kind="visit")
    actions.do_end_session(forced, actor=nina_ready.user, pin="9753")  # the duress PIN
    mine = markers.precheck(trust.org.pk, actor=nina_ready.user, postcode="PE13 2XY",
                            address="9 Mill Lane")
    assert (mine.risk, mine.reasons) == (as_normal.risk, as_normal.reasons) == ("low", [])
    told = markers.precheck(trust.org.pk, actor=trust.people["ben"].user,
                            postcode="PE13 2XY", address="9 Mill Lane")
    assert told.risk == "high" and "A red alert was raised here" in told.reasons[0]
