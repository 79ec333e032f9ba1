"""PRE-01: markers go to and come from the patient record as FHIR UK Core Flags. An export
is valid FHIR and imports back as the same markers; the security manager imports a bundle
over the API, each marker audited; a bundle with bad entries is refused whole, with the
reason for each, and adds nothing; nobody else exchanges flags."""

from datetime import date, timedelta

import pytest
from django.test import Client
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.flag import Flag

from lonewatch.core.models import AuditEvent
from lonewatch.markers import actions, fhir
from lonewatch.markers.models import Marker
from tests.conftest import bearer, post

pytestmark = pytest.mark.django_db

URL = "/api/v1/markers/fhir"
SAME = ("category", "nature", "advice", "source", "nhs_number", "local_id", "postcode",
        "house", "flat", "whole_building", "uprn", "review_on")


def _later(days=90) -> date:
    return date.today() + timedelta(days=days)


def _marker(trust, **fields) -> Marker:
    values = {"category": "violent_patient_indicator", "nature": "Threatened staff with a "
              "knife", "advice": "Visit in pairs; keep the exit clear", "source": "Incident "
              "report IR-2291", "review_on": _later()} | fields
    return actions.do_add_marker(trust.org, actor=trust.people["leslie"].user, **values)


def _flag(**changes) -> dict:
    """A Flag as a patient record would send it: an NHS number, no place."""
    flag = {
        "resourceType": "Flag", "status": "active",
        "meta": {"profile": [fhir.PROFILE]},
        "extension": [{"url": fhir.ADVICE, "valueString": "Ask for the dogs to be shut away"},
                      {"url": fhir.SOURCE, "valueString": "Community nursing record"}],
        "category": [{"coding": [{"system": fhir.CATEGORY, "code": "aggressive_animals"}]}],
        "code": {"text": "Two dogs, one has bitten"},
        "subject": {"type": "Patient",
                    "identifier": {"system": fhir.NHS_NUMBER, "value": "943 476 5919"}},
        "period": {"end": _later(30).isoformat()},
    }
    return flag | changes


def _bundle(*resources) -> dict:
    return {"resourceType": "Bundle", "type": "collection",
            "entry": [{"resource": resource} for resource in resources]}


def test_pre_01_an_export_is_valid_fhir_and_imports_back_as_the_same_markers(trust):
    markers = [
        _marker(trust, nhs_number="9434765919"),
        _marker(trust, postcode="pe13 1ab", house="14 Mill Lane", flat="2", uprn="10001234567",
                category="aggressive_animals", nature="Two dogs", advice="Ask for the dogs "
                "to be shut away"),
        _marker(trust, local_id="RX1-0042", postcode="PE13 1AD", house="Rose Cottage",
                whole_building=True, category="environment", nature="Unsafe stairs",
                advice="Bring a torch"),
    ]
    bundle = fhir.export_bundle(markers)
    Bundle.model_validate(bundle)
    flags = [Flag.model_validate(entry["resource"]) for entry in bundle["entry"]]
    assert {flag.status for flag in flags} == {"active"}
    assert flags[0].meta.profile == [fhir.PROFILE]
    assert flags[0].subject.identifier.system == fhir.NHS_NUMBER
    assert flags[1].subject.reference == "#place"
    assert flags[1].contained[0].address.postalCode == "PE13 1AB"
    assert flags[1].contained[0].address.line == ["Flat 2", "14"]
    assert flags[2].subject.identifier.system == fhir.LOCAL_ID  # the place is an extension
    assert {c.code for concept in flags[0].category for c in concept.coding} == \
        {"safety", "violent_patient_indicator"}

    again = fhir.import_bundle(trust.org, bundle, actor=trust.people["leslie"].user)
    assert [[getattr(m, name) for name in SAME] for m in again] == \
        [[getattr(m, name) for name in SAME] for m in markers]
    assert {m.pk for m in again}.isdisjoint(m.pk for m in markers)


def test_pre_01_the_security_manager_imports_and_exports_over_the_api_each_audited(trust):
    leslie = bearer(trust.people["leslie"])
    place = {"resourceType": "Location", "id": "home",
             "address": {"line": ["2/14 Mill Lane"], "postalCode": "pe131ab"}}
    made = post(Client(), URL, leslie, _bundle(
        _flag(),
        _flag(contained=[place], subject={"reference": "#home"},
              category=[{"coding": [{"system": fhir.CATEGORY, "code": "weapons"}]}],
              code={"text": "Air rifle in the hall"}),
    ))
    assert made.status_code == 201, made.content
    assert made.json()["created"] == 2
    added = Marker.objects.filter(pk__in=made.json()["ids"]).order_by("pk")
    assert [(m.nhs_number, m.category) for m in added] == \
        [("9434765919", "aggressive_animals"), ("", "weapons")]
    assert (added[1].postcode, added[1].house, added[1].flat) == ("PE13 1AB", "14", "2")
    assert AuditEvent.objects.filter(action="marker.add").count() == 2

    exported = Client().get(URL, headers=leslie)
    assert exported.status_code == 200, exported.content
    assert len(Bundle.model_validate(exported.json()).entry) == 2
    reads = AuditEvent.objects.filter(action="marker.read")
    assert reads.count() == 2 and "exported as FHIR" in reads.first().summary


def test_pre_01_a_bad_bundle_is_refused_whole_with_the_reason_for_each_bad_entry(trust):
    patient = {"resourceType": "Patient", "id": "p1"}
    refused = post(Client(), URL, bearer(trust.people["leslie"]), _bundle(
        _flag(),
        _flag(subject={"identifier": {"system": fhir.NHS_NUMBER, "value": "9434765918"}}),
        patient,
        _flag(category=[{"coding": [{"system": fhir.CATEGORY, "code": "ghosts"}]}]),
        _flag(status="inactive"),
        _flag(extension=[{"url": fhir.SOURCE, "valueString": "Ward record"}]),
        _flag(period={"end": date.today().isoformat()}),
        _flag(code="a string where an object belongs"),
    ))
    assert refused.status_code == 400, refused.content
    problems = refused.json()["problems"]
    assert [p.split(":")[0] for p in problems] == [f"entry[{i}]" for i in range(1, 8)]
    assert "not a valid NHS number" in problems[0]
    assert "Not a Flag but a Patient" in problems[1]
    assert "category must be one of" in problems[2]
    assert "Only active flags" in problems[3]
    assert "Give practical advice" in problems[4]
    assert "review date in the future" in problems[5]
    assert problems[6].startswith("entry[7]: Not valid FHIR: code:")
    assert refused.json()["detail"].startswith("The bundle was not imported")
    assert not Marker.objects.exists()
    assert not AuditEvent.objects.filter(action="marker.add").exists()


def test_pre_01_only_the_security_manager_exchanges_flags(trust):
    nina = bearer(trust.people["nina"])
    _marker(trust, nhs_number="9434765919")
    assert Client().get(URL, headers=nina).status_code == 403
    assert post(Client(), URL, nina, _bundle(_flag())).status_code == 403
    assert Marker.objects.count() == 1
    assert not AuditEvent.objects.filter(action="marker.read").exists()


def test_pre_01_a_bundle_of_more_than_three_thousand_entries_is_refused(trust):
    too_many = {"resourceType": "Bundle", "type": "collection",
                "entry": [{"resource": {}}] * (fhir.MAX_IMPORT + 1)}
    refused = post(Client(), URL, bearer(trust.people["leslie"]), too_many)
    assert refused.status_code == 400
    assert "entry needs at most 3000 items" in refused.json()["detail"]
    with pytest.raises(fhir.ImportRefused, match="more than 3,000 entries"):
        fhir.import_bundle(trust.org, too_many, actor=trust.people["leslie"].user)


def test_pre_01_a_bundle_too_big_to_read_is_refused_in_json(trust):
    leslie = bearer(trust.people["leslie"])
    body = '{"resourceType": "Bundle", "type": "collection", "entry": [' + ",".join(
        ['{"resource": {"resourceType": "Flag", "status": "active", "code": {"text": "'
         + "x" * 900 + '"}}}'] * 3000) + "]}"
    answer = Client().post("/api/v1/markers/fhir", body, content_type="application/json",
                           headers=leslie)
    assert answer.status_code == 413
    assert answer.json() == {"detail": "The request is too large. Send it in smaller parts."}
    assert not Marker.objects.exists()
