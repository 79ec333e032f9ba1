"""PRE-06: during a visit. Warning signs are recorded with the time and, while the session
runs, where; "withdrawing now" tells the buddy, brings the next check-in forward and, once
the worker is safe (the session ends), stores the incident prompt with its facts; the
signs can be proposed as a new marker that the security manager accepts or declines."""

from datetime import date, timedelta

import pytest
from django.test import Client

from lonewatch import clock
from lonewatch.core.models import AuditEvent
from lonewatch.markers import actions as markers
from lonewatch.markers.models import Marker
from lonewatch.notify.models import Delivery
from lonewatch.visits import actions
from lonewatch.visits.models import Flag, IncidentPrompt, SessionEvent
from tests.conftest import bearer, post

pytestmark = pytest.mark.django_db


def test_pre_06_warning_signs_are_recorded_with_time_and_place(trust, nina_ready,
                                                               start_session):
    session = start_session()
    nina = bearer(nina_ready)
    made = post(Client(), f"/api/v1/sessions/{session.pk}/flags", nina,
                {"signs": ["alcohol", "aggression"], "lat": 52.66, "lon": 0.16})
    assert made.status_code == 201, made.content
    assert [f["sign"] for f in made.json()] == ["alcohol", "aggression"]
    line = SessionEvent.objects.get(kind="flag")
    assert line.summary == "Warning signs: alcohol, aggression"
    assert (line.position.lat, line.position.lon) == (52.66, 0.16)
    assert line.at == Flag.objects.first().at
    bad = post(Client(), f"/api/v1/sessions/{session.pk}/flags", nina, {"signs": ["ghosts"]})
    assert bad.status_code == 400 and Flag.objects.count() == 2
    none = post(Client(), f"/api/v1/sessions/{session.pk}/flags", nina, {"signs": []})
    assert none.status_code == 400
    assert post(Client(), f"/api/v1/sessions/{session.pk}/flags",
                bearer(trust.people["ben"]), {"signs": ["weapon"]}).status_code == 403


def test_pre_06_withdrawing_now_tells_the_buddy_and_brings_the_check_in_forward(
        trust, nina_ready, start_session, settings):
    session = start_session(interval=3600)
    actions.do_flag(session, actor=nina_ready.user, signs=["weapon"])
    before = clock.now()
    answered = post(Client(), f"/api/v1/sessions/{session.pk}/withdraw", bearer(nina_ready))
    assert answered.status_code == 200, answered.content
    session.refresh_from_db()
    assert session.withdrew_at is not None
    assert session.due_at <= before + timedelta(seconds=settings.WITHDRAW_CHECKIN_SECONDS + 1)
    told = Delivery.objects.get(recipient=trust.people["ben"], purpose="withdrawing",
                                channel="in_app")
    assert "withdrawing now from 12 Acacia Avenue" in told.body
    again = post(Client(), f"/api/v1/sessions/{session.pk}/withdraw", bearer(nina_ready))
    assert again.status_code == 409
    prompt = IncidentPrompt.objects.get()
    assert prompt.safe_at is None and prompt.facts["signs"] == ["weapon"]
    actions.do_end_session(session, actor=nina_ready.user, pin="2468")
    prompt.refresh_from_db()
    assert prompt.safe_at is not None and prompt.reported_at is None
    client = Client()
    client.force_login(nina_ready.user)
    page = client.get("/my-day/").content.decode()
    assert "You withdrew from a visit" in page and "report what happened" in page
    assert AuditEvent.objects.filter(action="session.withdraw").count() == 1


def test_pre_06_signs_proposed_as_a_marker_the_security_manager_accepts(trust, nina_ready,
                                                                       start_session):
    session = start_session(nhs_number="9434765919")
    nina = bearer(nina_ready)
    early = post(Client(), f"/api/v1/sessions/{session.pk}/propose-marker", nina)
    assert early.status_code == 400 and "Note the warning signs first" in early.json()["detail"]
    actions.do_flag(session, actor=nina_ready.user, signs=["animals"])
    proposed = post(Client(), f"/api/v1/sessions/{session.pk}/propose-marker", nina,
                    {"note": "Large dog loose in the garden"})
    assert proposed.status_code == 201, proposed.content
    marker = Marker.objects.get()
    assert (marker.state, marker.category, marker.nhs_number, marker.proposed_from) == (
        "proposed", "aggressive_animals", "9434765919", session)
    # Not in force until accepted: it does not make a visit high risk yet.
    leslie = trust.people["leslie"].user
    assert markers.precheck(trust.org.pk, actor=leslie, nhs_number="9434765919").risk == "low"
    with pytest.raises(markers.MarkerError, match="practical advice"):
        markers.do_decide_proposal(marker, actor=leslie, accept=True,
                                   review_on=date.today() + timedelta(days=30))
    decided = post(Client(), f"/api/v1/markers/{marker.pk}/decision",
                   bearer(trust.people["leslie"]),
                   {"accept": True, "advice": "Ask for the dog to be shut in a room",
                    "review_on": (date.today() + timedelta(days=90)).isoformat()})
    assert decided.status_code == 200, decided.content
    assert markers.precheck(trust.org.pk, actor=leslie, nhs_number="9434765919").risk == "high"
    assert post(Client(), f"/api/v1/markers/{marker.pk}/decision", nina,
                {"accept": False}).status_code == 403


EXPECTED_AFTER_WITHDRAWING = ["started", "withdrawing", "ended"]


@pytest.mark.parametrize("pin", ["2468", "9753"])
def test_pre_06_mov_04_after_withdrawing_a_duress_check_out_reads_as_a_normal_one(
        trust, nina_ready, start_session, pin):
    """Side by side: a worker withdraws, then checks out with her PIN or her duress PIN.
    Her My day, her session as the API gives it and her incident prompt read alike."""
    from django.contrib.auth.hashers import make_password
    nina_ready.duress_pin_hash = make_password("9753")
    nina_ready.save()
    session = start_session(interval=3600)
    actions.do_withdraw(session, actor=nina_ready.user)
    actions.do_end_session(session, actor=nina_ready.user, pin=pin)
    client = Client()
    client.force_login(nina_ready.user)
    page = client.get("/my-day/").content.decode()
    assert "You withdrew from a visit" in page and "Your red alert" not in page
    answer = Client().get(f"/api/v1/sessions/{session.pk}",
                          headers=bearer(nina_ready)).json()
    assert answer["state"] == "ended"
    kinds = [line["kind"] for line in answer["timeline"] if line["kind"] not in (
        "delivery", "delivery_failed")]
    assert kinds == EXPECTED_AFTER_WITHDRAWING, kinds
    prompt = IncidentPrompt.objects.get()
    assert prompt.safe_at is not None and prompt.reported_at is None
    assert Client().get("/api/v1/alarms", headers=bearer(nina_ready)).json() == []
