"""PRE-01, PRE-02, PRE-04: the risk marker register and the pre-visit check. The same
person is found by an NHS number typed with different spacing; the same address typed
differently is found; a different flat in the same building is not, unless the marker is
for the building. A visit is high risk with the reasons and what it needs before it can
start; every marker shown is an audited read; bad input is refused and changes
nothing."""

from datetime import date, timedelta

import pytest
from django.test import Client

from lonewatch import clock
from lonewatch.core import places as matching
from lonewatch.core.models import AuditEvent
from lonewatch.markers import actions
from lonewatch.markers.models import Marker
from tests.conftest import bearer, post

pytestmark = pytest.mark.django_db

NHS = "943 476 5919"  # a valid NHS number (check digit 9)


def test_pre_01_numbers_postcodes_and_addresses_are_written_one_way():
    assert matching.nhs("943 476 5919") == matching.nhs("943-476-5919") == \
        matching.nhs(" 9434765919 ") == "9434765919"
    with pytest.raises(matching.NotUnderstood):
        matching.nhs("943 476 5918")  # a wrong check digit
    assert matching.postcode("pe131ab") == matching.postcode(" PE13  1AB ") == "PE13 1AB"
    with pytest.raises(matching.NotUnderstood):
        matching.postcode("NOT A CODE")
    same = {matching.place(a) for a in ("14 Mill Lane", "14, Mill Lane", "14 MILL LANE",
                                        "14 Mill Ln.")}
    assert same == {matching.Place("14", "")}
    flats = {matching.place(a) for a in ("Flat 2, 14 Mill Lane", "flat 2 14 mill lane",
                                         "2/14 Mill Lane", "Apartment 2, 14 Mill Lane")}
    assert flats == {matching.Place("14", "2")}
    assert matching.place("Rose Cottage, Church Road") == \
        matching.place("rose cottage church rd") == matching.Place("rose cottage", "")


def _marker(trust, **fields):
    values = {"category": "violent_patient_indicator", "nature": "Threatened staff with a "
              "knife", "advice": "Visit in pairs; keep the exit clear", "source": "Incident "
              "report IR-2291", "review_on": date.today() + timedelta(days=90)} | fields
    return actions.do_add_marker(trust.org, actor=trust.people["leslie"].user, **values)


def _check(trust, person="nina", **query):
    return actions.precheck(trust.org.pk, actor=trust.people[person].user, **query)


def test_pre_04_the_same_person_and_place_are_found_however_typed(trust):
    by_person = _marker(trust, nhs_number="9434765919")
    flat_two = _marker(trust, postcode="PE13 1AB", house="14", flat="2",
                       category="aggressive_animals", nature="Two dogs",
                       advice="Ask for the dogs to be shut away")
    building = _marker(trust, postcode="PE13 1AB", house="20", whole_building=True,
                       category="environment", nature="Broken stair lighting",
                       advice="Bring a torch")
    assert _check(trust, nhs_number="943-476-5919").markers == [by_person]
    assert _check(trust, postcode="pe13 1ab", address="Flat 2, 14 Mill Lane").markers == \
        [flat_two]
    assert _check(trust, postcode="PE131AB", address="2/14 mill ln").markers == [flat_two]
    # A different flat in the same building is not a match...
    assert _check(trust, postcode="PE13 1AB", address="Flat 3, 14 Mill Lane").markers == []
    # ...unless the marker is for the whole building.
    assert _check(trust, postcode="PE13 1AB", address="Flat 7, 20 Mill Lane").markers == \
        [building]
    # Another postcode or another house is another place.
    assert _check(trust, postcode="PE13 1AD", address="Flat 2, 14 Mill Lane").markers == []
    assert _check(trust, postcode="PE13 1AB", address="Flat 2, 16 Mill Lane").markers == []


def test_pre_04_a_high_risk_visit_says_why_and_what_it_needs(trust):
    _marker(trust, nhs_number="9434765919")
    _marker(trust, postcode="PE13 1AB", house="14", category="infection_control",
            nature="MRSA", advice="Full PPE")
    high = _check(trust, nhs_number=NHS, postcode="PE13 1AB", address="14 Mill Lane")
    assert high.risk == "high"
    assert "Violent patient indicator: Threatened staff with a knife" in high.reasons
    assert "Infection control: MRSA" in high.reasons
    assert high.requires == ["accompanied", "neutral_location", "reschedule",
                             "manager_exception"]
    low = _check(trust, postcode="PE13 1AB", address="14 Mill Lane")
    assert low.risk == "low" and low.requires == [] and len(low.markers) == 1
    nothing = _check(trust, postcode="PE13 1AB", address="99 Mill Lane")
    assert (nothing.risk, nothing.reasons, nothing.markers) == ("low", [], [])


def test_pre_01_a_marker_past_its_review_date_is_shown_as_expired(trust, time_machine):
    time_machine.move_to(clock.now(), tick=False)
    _marker(trust, nhs_number="9434765919", review_on=date.today() + timedelta(days=1))
    time_machine.move_to(clock.now() + timedelta(days=3), tick=False)
    result = _check(trust, nhs_number=NHS)
    assert result.risk == "high" and "past its review date" in result.reasons[0]


def test_pre_01_the_api_register_is_the_security_managers_and_every_read_is_audited(
        trust, client, nina_ready):
    leslie, nina = bearer(trust.people["leslie"]), bearer(trust.people["nina"])
    body = {"category": "weapons", "nature": "Air rifle kept in the hall",
            "advice": "Ask for it to be put away before you go in", "source": "Police",
            "review_on": (date.today() + timedelta(days=30)).isoformat(),
            "postcode": "pe13 1ab", "house": "14 Mill Lane"}
    assert post(client, "/api/v1/markers", nina, body).status_code == 403
    made = post(client, "/api/v1/markers", leslie, body)
    assert made.status_code == 201, made.content
    assert (made.json()["postcode"], made.json()["house"]) == ("PE13 1AB", "14")
    assert Client().get("/api/v1/markers", headers=nina).status_code == 403
    reads = AuditEvent.objects.filter(action="marker.read")
    assert Client().get("/api/v1/markers", headers=leslie).status_code == 200
    assert reads.count() == 1
    checked = Client().get("/api/v1/visits/precheck",
                           {"postcode": "PE13 1AB", "address": "14 Mill Lane"}, headers=nina)
    assert checked.status_code == 200, checked.content
    # Nina has no visit there: she learns the risk and its category, not the marker.
    assert checked.json()["risk"] == "high" and checked.json()["markers"] == []
    assert checked.json()["reasons"] == [
        "Weapons: plan the visit to read this marker and its advice"]
    assert reads.count() == 2 and reads.last().actor == trust.people["nina"].user
    start = clock.now() + timedelta(hours=2)
    planned = post(client, "/api/v1/visits", nina, {
        "address": "14, Mill Lane", "postcode": "PE131AB", "buddy_id": trust.people["ben"].pk,
        "planned_start": start.isoformat(),
        "planned_end": (start + timedelta(hours=1)).isoformat()})
    assert planned.status_code == 201, planned.content
    assert planned.json()["risk"] == "high"
    assert planned.json()["precheck"]["markers"][0]["advice"].startswith("Ask for it")
    checked = Client().get("/api/v1/visits/precheck",
                           {"postcode": "PE13 1AB", "address": "14 Mill Lane"}, headers=nina)
    assert checked.json()["markers"][0]["nature"] == "Air rifle kept in the hall"
    assert Client().get("/api/v1/visits/precheck", {"postcode": "nonsense"},
                        headers=nina).status_code == 400


@pytest.mark.parametrize(("change", "words"), [
    ({"nhs_number": "123 456 7890"}, "not a valid NHS number"),
    ({"postcode": "XX"}, "not a UK postcode"),
    ({"nhs_number": ""}, "Say who or where"),
    ({"postcode": "PE13 1AB"}, "both its postcode and its house"),
    ({"advice": "  "}, "practical advice"),
    ({"review_on": date.today()}, "review date in the future"),
    ({"category": "gossip"}, "category must be one of"),
])
def test_pre_01_bad_markers_are_refused_and_change_nothing(trust, change, words):
    with pytest.raises(actions.MarkerError, match=words):
        _marker(trust, **({"nhs_number": "9434765919"} | change))
    assert not Marker.objects.exists()


def test_pre_03_sharing_a_marker_outside_the_team_is_logged(trust, client):
    marker = _marker(trust, nhs_number="9434765919")
    leslie, nina = bearer(trust.people["leslie"]), bearer(trust.people["nina"])
    url = f"/api/v1/markers/{marker.pk}/shares"
    body = {"organisation": "Cambridgeshire Constabulary", "role": "Safeguarding officer",
            "basis": "crime_prevention", "note": "Joint visit planned"}
    assert post(client, url, nina, body).status_code == 403
    for bad, words in (({"organisation": "  "}, "which organisation"),
                       ({"basis": "because"}, "basis must be one of")):
        refused = post(client, url, leslie, body | bad)
        assert refused.status_code == 400 and words in refused.json()["detail"]
    made = post(client, url, leslie, body)
    assert made.status_code == 201, made.content
    log = client.get(url, headers=leslie).json()
    assert [(s["organisation"], s["role"], s["basis"], s["shared_by"]) for s in log] == [
        ("Cambridgeshire Constabulary", "Safeguarding officer", "crime_prevention", "leslie")]
    assert AuditEvent.objects.filter(action="marker.share").count() == 1
    assert post(client, "/api/v1/markers/999999/shares", leslie, body).status_code == 404


@pytest.mark.parametrize("category", ["violent_patient_indicator", "violent_patient_scheme"])
def test_pre_02_violent_patient_flags_make_every_visit_to_the_person_high_risk(trust,
                                                                            category):
    _marker(trust, nhs_number="9434765919", category=category)
    result = _check(trust, nhs_number=NHS)
    assert result.risk == "high" and result.requires
    if category == "violent_patient_scheme":
        assert "visit only for clinical need" in result.reasons[0]
