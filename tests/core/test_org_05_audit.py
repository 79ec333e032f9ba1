"""ORG-05: changes and sensitive reads are audited in a tamper-evident chain."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from lonewatch.accounts.models import User
from lonewatch.core import audit
from lonewatch.core.models import AuditChainHead, AuditEvent
from lonewatch.org import actions
from lonewatch.org.models import Organisation, Person
from tests.conftest import PASSWORD, login


def _drop_append_only_trigger():
    """What an attacker with database access would do first."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE core_auditevent DISABLE TRIGGER audit_event_append_only")
        else:
            cursor.execute("DROP TRIGGER IF EXISTS audit_event_append_only")


@pytest.fixture
def history(trust):
    nina = trust.people["nina"]
    for n in range(5):
        actions.do_update_contact(nina, actor=nina.user, known_breaks=f"break {n}")
    actions.do_add_next_of_kin(nina, actor=nina.user, name="Piotr", relationship="Husband",
                               phone="+447700900911")
    actions.read_next_of_kin(nina, actor=trust.people["adam"].user)
    return nina


def test_org_05_change_is_recorded_with_who_what_and_before_after(history):
    event = AuditEvent.objects.filter(action="person.contact.update").order_by("seq").last()
    assert event.actor_label == "nina"
    assert event.object_type == "org.person" and event.object_id == str(history.pk)
    assert event.changes == {"before": {"known_breaks": "break 3"},
                             "after": {"known_breaks": "break 4"}}


def test_org_05_next_of_kin_read_is_audited(history, trust):
    read = AuditEvent.objects.get(action="person.next_of_kin.read")
    assert read.actor == trust.people["adam"].user


def test_org_05_audit_row_commits_or_rolls_back_with_the_change(trust):
    nina = trust.people["nina"]
    count = AuditEvent.objects.count()
    with pytest.raises(RuntimeError), transaction.atomic():
        actions.do_update_contact(nina, actor=nina.user, known_breaks="never saved")
        raise RuntimeError("the request failed after the change")
    assert AuditEvent.objects.count() == count
    nina.refresh_from_db()
    assert nina.known_breaks == ""


@pytest.mark.django_db(transaction=True)
def test_org_05_record_refuses_to_run_outside_a_transaction():
    with pytest.raises(RuntimeError, match="inside the transaction"):
        audit.record("x", actor=None, object_type="x", object_id="1")


def test_org_05_intact_chain_verifies(history):
    checked, problems = audit.verify()
    assert problems == [] and checked == AuditEvent.objects.count() > 0


def test_org_05_database_refuses_to_edit_an_event(history):
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(action="person.next_of_kin.read").update(actor_label="nobody")


@pytest.mark.django_db(transaction=True)
def test_org_05_edited_event_is_found_and_named(history):
    _drop_append_only_trigger()
    victim = AuditEvent.objects.get(action="person.next_of_kin.read")
    AuditEvent.objects.filter(pk=victim.pk).update(actor_label="somebody-else")
    _checked, problems = audit.verify()
    assert [p.event_id for p in problems] == [victim.pk]
    assert "contents were altered" in str(problems[0])
    with pytest.raises(CommandError, match="NOT intact"):
        call_command("audit", "verify")


@pytest.mark.django_db(transaction=True)
def test_org_05_deleted_event_in_the_middle_is_found(history):
    _drop_append_only_trigger()
    chain = audit.chain_for("org.person", str(history.pk))
    events = list(AuditEvent.objects.filter(chain=chain).order_by("seq"))
    assert len(events) >= 3
    AuditEvent.objects.filter(pk=events[1].pk).delete()
    _checked, problems = audit.verify()
    assert len(problems) == 1
    assert f"events {events[1].seq} to {events[1].seq} are missing" in problems[0].message


@pytest.mark.django_db(transaction=True)
def test_org_05_deleted_tail_is_found(history):
    _drop_append_only_trigger()
    chain = audit.chain_for("org.person", str(history.pk))
    last = AuditEvent.objects.filter(chain=chain).order_by("seq").last()
    AuditEvent.objects.filter(pk=last.pk).delete()
    _checked, problems = audit.verify()
    assert len(problems) == 1 and "were deleted" in problems[0].message


@pytest.mark.django_db(transaction=True)
def test_org_05_rewritten_chain_is_found_by_its_head(history):
    """An attacker who recomputes one event's hash still breaks the link to the next."""
    _drop_append_only_trigger()
    chain = audit.chain_for("org.person", str(history.pk))
    events = list(AuditEvent.objects.filter(chain=chain).order_by("seq"))
    forged = events[0]
    forged.summary = "forged"
    forged.hash = audit.compute_hash(forged)
    AuditEvent.objects.filter(pk=forged.pk).update(summary="forged", hash=forged.hash)
    _checked, problems = audit.verify()
    assert [p.event_id for p in problems] == [events[1].pk]
    assert AuditChainHead.objects.get(chain=chain).seq == events[-1].seq


def test_org_05_login_password_is_never_in_the_trail(trust, client):
    client.post("/login", {"username": "nina", "password": PASSWORD})
    assert PASSWORD not in str(list(AuditEvent.objects.values()))


def test_org_03_the_audit_trail_shows_only_the_readers_own_organisation(trust, client):
    """Q-SEC: the audit page and the home page's recent events are scoped to the reader's
    organisation; another trust's events never show."""
    elsewhere = Organisation.objects.create(name="Elsewhere Trust")
    stranger = Person.objects.create(user=User.objects.create(username="stranger"),
                                     organisation=elsewhere, full_name="Stranger Danger")
    with transaction.atomic():
        audit.record("person.update", actor=stranger.user, obj=stranger,
                     summary="Elsewhere: a secret change")
        audit.record("person.update", actor=trust.people["adam"].user,
                     obj=trust.people["nina"], summary="Here: a change to Nina")
    leslie = login(client, trust.people["leslie"], verified=True)
    page = leslie.get("/audit/").content.decode()
    assert "Here: a change to Nina" in page and "a secret change" not in page
    home = leslie.get("/").content.decode()
    assert "a secret change" not in home
