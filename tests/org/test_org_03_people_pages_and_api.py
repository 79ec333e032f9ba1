"""ORG-03, ORG-04, ORG-05 through HTTP: pages and API show each role what it may see."""

import pytest

from lonewatch.core.models import AuditEvent
from lonewatch.escalation import actions as engine
from lonewatch.org import actions
from tests.conftest import token_for


def _api(client, person):
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {token_for(person, 'test')}"
    return client


def test_org_03_manager_sees_team_but_not_other_directorate(trust, as_person):
    client = as_person(trust.people["maria"])
    people = client.get("/people/").content.decode()
    assert "Nina" in people and "Sol" in people and "Otto" not in people
    assert client.get(f"/people/{trust.people['nina'].pk}/").status_code == 200
    outside = client.get(f"/people/{trust.people['otto'].pk}/")
    assert outside.status_code == 404
    assert "not something you can see" in outside.content.decode() or \
        "not one you can see" in outside.content.decode()
    assert client.get("/people/999999/").status_code == 404


def test_org_03_manager_sees_contact_details_only_while_an_escalation_is_open(
        trust, as_person, at, start_session):
    """ORG-03: contact details, vehicle and breaks are shown to escalation points only
    while needed: while an escalation about the worker is open."""
    nina = trust.people["nina"]
    actions.do_update_contact(nina, actor=nina.user, vehicle_description="Blue Corsa AB12 CDE")
    client = as_person(trust.people["maria"])
    page = client.get(f"/people/{nina.pk}/").content.decode()
    assert "Nina" in page and "Blue Corsa AB12 CDE" not in page
    start_session(interval=600)
    at(minutes=10)
    engine.start_due()
    page = client.get(f"/people/{nina.pk}/").content.decode()
    assert "Blue Corsa AB12 CDE" in page and "Show next of kin" in page
    # Still no next of kin without asking, and none at all for someone outside it.
    assert "Blue Corsa" not in as_person(trust.people["claire"]).get(
        f"/people/{nina.pk}/").content.decode()


def test_org_03_directorate_lead_sees_people_but_not_contacts(trust, as_person):
    nina = trust.people["nina"]
    actions.do_update_contact(nina, actor=nina.user, vehicle_description="Blue Corsa AB12 CDE")
    page = as_person(trust.people["claire"]).get(f"/people/{nina.pk}/").content.decode()
    assert "Nina" in page and "Blue Corsa" not in page


def test_org_05_showing_next_of_kin_is_audited(trust, as_person):
    nina = trust.people["nina"]
    actions.do_add_next_of_kin(nina, actor=nina.user, name="Piotr Kowalski",
                               relationship="Husband", phone="+447700900911")
    client = as_person(trust.people["adam"], verified=True)
    page = client.get(f"/people/{nina.pk}/").content.decode()
    assert "Piotr" not in page and "Show next of kin" in page
    fragment = client.get(f"/people/{nina.pk}/next-of-kin").content.decode()
    assert "Piotr Kowalski" in fragment
    event = AuditEvent.objects.get(action="person.next_of_kin.read")
    assert event.actor == trust.people["adam"].user and event.object_id == str(nina.pk)
    assert event.ip == "127.0.0.1" and len(event.request_id) == 32


def test_org_03_worker_edits_own_contact_details_and_next_of_kin(trust, as_person):
    client = as_person(trust.people["nina"])
    response = client.post("/profile/contact", {"mobile": "07700 900555", "email": "n@x.nhs.uk",
                                                "vehicle_description": "Red Fiat 500",
                                                "known_breaks": "12:30"})
    assert response.status_code == 302
    nina = trust.people["nina"]
    nina.refresh_from_db()
    assert nina.mobile == "+447700900555" and nina.vehicle_description == "Red Fiat 500"
    client.post("/profile/next-of-kin", {"name": "Piotr", "relationship": "Husband",
                                         "phone": "020 7219 3000"})
    assert nina.next_of_kin.get().phone == "+442072193000"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"mobile": "12"}, "Enter a UK mobile number"),
        ({"mobile": "020 7219 3000"}, "not a mobile number"),
        ({"mobile": "07700900555", "email": "nope"}, "Enter an email address"),
        ({"mobile": ""}, "Enter your mobile number"),
    ],
)
def test_org_03_bad_contact_details_get_a_clear_error_and_change_nothing(trust, as_person,
                                                                         data, message):
    client = as_person(trust.people["nina"])
    response = client.post("/profile/contact", data)
    assert response.status_code == 400
    body = response.content.decode()
    assert "There is a problem" in body and message in body
    nina = trust.people["nina"]
    nina.refresh_from_db()
    assert nina.mobile == "+447700900100"


def test_org_04_occupational_health_marks_and_clears_a_person(trust, as_person):
    nina = trust.people["nina"]
    client = as_person(trust.people["helen"])
    missing = client.post(f"/people/{nina.pk}/fitness", {"unable_to_work_alone": "yes"})
    assert missing.status_code == 400 and "Enter the date" in missing.content.decode()
    past = client.post(f"/people/{nina.pk}/fitness", {"unable_to_work_alone": "yes",
                                                      "review": "2020-01-01"})
    assert past.status_code == 400 and "must be in the future" in past.content.decode()
    nina.refresh_from_db()
    assert not nina.unable_to_work_alone
    client.post(f"/people/{nina.pk}/fitness", {"unable_to_work_alone": "yes",
                                               "review": "2099-03-31"})
    nina.refresh_from_db()
    assert nina.unable_to_work_alone and str(nina.unable_to_work_alone_review) == "2099-03-31"
    home = as_person(nina).get("/").content.decode()
    assert "You must not work alone" in home
    assert AuditEvent.objects.filter(action="person.fitness.update").count() == 1


def test_org_04_only_occupational_health_records_fitness(trust, as_person):
    nina = trust.people["nina"]
    for actor in ("maria", "nina"):
        response = as_person(trust.people[actor]).post(
            f"/people/{nina.pk}/fitness", {"unable_to_work_alone": "yes", "review": "2099-01-01"})
        assert response.status_code == 403
    nina.refresh_from_db()
    assert not nina.unable_to_work_alone


def test_org_02_home_page_differs_by_role(trust, as_person):
    assert "Your team" in as_person(trust.people["maria"]).get("/").content.decode()
    trust.people["nina"].unable_to_work_alone = True
    trust.people["nina"].save()
    oh = as_person(trust.people["helen"]).get("/").content.decode()
    assert "People who must not work alone" in oh and "Nina" in oh
    nina_home = as_person(trust.people["ben"]).get("/").content.decode()
    assert "Your team" not in nina_home and "Audit trail" not in nina_home


def test_bud_01_buddy_accepts_a_nomination(trust, as_person):
    nina = trust.people["nina"]
    client = as_person(trust.people["ben"])
    assert "Accept: be Nina" in client.get("/").content.decode()
    client.post(f"/people/{nina.pk}/accept-buddy")
    nina.refresh_from_db()
    assert nina.buddy_accepted_at is not None
    # Someone who is not the nominated buddy cannot accept for them.
    sol = trust.people["sol"]
    sol.buddy = trust.people["nina"]
    sol.save()
    assert client.post(f"/people/{sol.pk}/accept-buddy").status_code == 404


def test_org_05_audit_trail_page_only_for_security_and_admin(trust, as_person):
    assert as_person(trust.people["maria"]).get("/audit/").status_code == 403
    assert as_person(trust.people["anita"]).get("/audit/").status_code == 200


def test_org_03_api_people_are_scoped(trust, client):
    _api(client, trust.people["maria"])
    names = {p["username"] for p in client.get("/api/v1/people").json()}
    assert names == {"maria", "nina", "ben", "sol", "sarah"}  # sarah sits in North
    nina = client.get(f"/api/v1/people/{trust.people['nina'].pk}").json()
    # ORG-03: her contact details only while an escalation about her is open.
    assert nina["contact"] is None and nina["fitness"] is not None
    response = client.get(f"/api/v1/people/{trust.people['otto'].pk}")
    assert response.status_code == 404 and "detail" in response.json()
    kin = client.get(f"/api/v1/people/{trust.people['nina'].pk}/next-of-kin")
    assert kin.status_code == 403 and kin.json()["detail"]


def test_org_03_api_directorate_lead_gets_no_contact_block(trust, client):
    _api(client, trust.people["claire"])
    nina = client.get(f"/api/v1/people/{trust.people['nina'].pk}").json()
    assert nina["contact"] is None


def test_org_05_api_next_of_kin_read_is_audited(trust, client):
    nina = trust.people["nina"]
    actions.do_add_next_of_kin(nina, actor=nina.user, name="Piotr", relationship="Husband",
                               phone="+447700900911")
    _api(client, nina)
    assert client.get(f"/api/v1/people/{nina.pk}/next-of-kin").json()[0]["name"] == "Piotr"
    assert AuditEvent.objects.filter(action="person.next_of_kin.read",
                                     actor=nina.user).count() == 1


def test_api_bad_query_parameter_is_a_400_with_a_message(trust, client):
    _api(client, trust.people["maria"])
    response = client.get("/api/v1/people?limit=lots")
    assert response.status_code == 400
    assert response.json()["detail"].startswith("The request is not valid: ")


def test_api_schema_and_docs_are_published(client, db):
    schema = client.get("/api/openapi.json").json()
    assert schema["info"]["title"] == "Lonewatch API"
    assert "/api/v1/people/{person_id}/next-of-kin" in schema["paths"]
    assert client.get("/api/docs").status_code == 200


def test_api_unknown_endpoint_and_bad_offset_answer_in_json(trust, client):
    _api(client, trust.people["maria"])
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404 and "no API endpoint" in response.json()["detail"]
    response = client.get("/api/v1/people?offset=-1")
    assert response.status_code == 400 and "offset" in response.json()["detail"]
