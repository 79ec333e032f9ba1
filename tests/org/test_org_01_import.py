"""ORG-01, ORG-02: people arrive from the HR export, idempotently and all-or-nothing."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from lonewatch.core.models import AuditEvent
from lonewatch.org.importer import ImportFailed, import_people
from lonewatch.org.models import Organisation, Person, RoleMembership, Team
from lonewatch.org.roles import Role, Scope

HEADER = "username,full_name,email,mobile,directorate,team,roles,line_manager,buddy\n"
GOOD = HEADER + (
    "maria.m,Maria Santos,maria@trust.example,07700 900110,Community,North,"
    "line_manager;buddy,,\n"
    "nina.n,Nina Kowalski,nina@trust.example,07700900111,Community,North,"
    "lone_worker;buddy,maria.m,ben.b\n"
    "ben.b,Ben Carter,ben@trust.example,+44 7700 900112,Community,North,lone_worker;buddy,"
    "maria.m,nina.n\n"
    "sarah.s,Sarah Okafor,,,Community,,senior_manager,,\n"
    "leslie.l,Leslie Morgan,leslie@trust.example,,,,security_manager,,\n"
)


@pytest.fixture
def org(db):
    return Organisation.objects.create(name="Import Trust")


def test_org_01_good_file_builds_structure_people_and_roles(org):
    result = import_people(GOOD, organisation=org, create_teams=True)
    assert sorted(result.created) == ["ben.b", "leslie.l", "maria.m", "nina.n", "sarah.s"]
    nina = Person.objects.get(user__username="nina.n")
    assert nina.team.name == "North" and nina.team.directorate.name == "Community"
    assert nina.mobile == "+447700900111"
    assert nina.line_manager.username == "maria.m"
    assert nina.buddy.username == "ben.b" and nina.buddy_accepted_at is None
    assert not nina.user.has_usable_password()
    maria_roles = {(m.role, m.scope, m.team_id) for m in
                   RoleMembership.objects.filter(person__user__username="maria.m")}
    assert maria_roles == {(Role.LINE_MANAGER, Scope.TEAM, nina.team_id),
                           (Role.BUDDY, Scope.OWN, None)}
    sarah = RoleMembership.objects.get(person__user__username="sarah.s")
    assert (sarah.scope, sarah.directorate.name) == (Scope.DIRECTORATE, "Community")
    assert AuditEvent.objects.filter(action="person.create").count() == 5


def test_org_01_reimport_changes_nothing_and_duplicates_nothing(org):
    import_people(GOOD, organisation=org, create_teams=True)
    events = AuditEvent.objects.count()
    result = import_people(GOOD, organisation=org, create_teams=True)
    assert result.created == [] and result.updated == []
    assert len(result.unchanged) == 5
    assert Person.objects.count() == 5 and Team.objects.count() == 1
    assert RoleMembership.objects.count() == 8
    assert AuditEvent.objects.count() == events


def test_org_01_reimport_updates_changed_people(org):
    import_people(GOOD, organisation=org, create_teams=True)
    changed = GOOD.replace("Nina Kowalski", "Nina Kowalska").replace(
        "lone_worker;buddy,maria.m,ben.b", "lone_worker,maria.m,ben.b")
    result = import_people(changed, organisation=org)
    assert result.updated == ["nina.n"]
    nina = Person.objects.get(user__username="nina.n")
    assert nina.full_name == "Nina Kowalska"
    assert list(nina.roles.values_list("role", flat=True)) == [Role.LONE_WORKER]
    event = AuditEvent.objects.get(action="person.update", object_id=str(nina.pk))
    assert event.changes["before"]["full_name"] == "Nina Kowalski"
    assert event.changes["after"]["full_name"] == "Nina Kowalska"


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("x y,Bad Name,,,Community,North,lone_worker,,", "username 'x y'"),
        ("zed,,,,Community,North,lone_worker,,", "full_name is empty"),
        ("zed,Zed,not-an-email,,Community,North,lone_worker,,", "not an email address"),
        ("zed,Zed,,020 7219 3000,Community,North,lone_worker,,", "not a mobile number"),
        ("zed,Zed,,12345,Community,North,lone_worker,,", "not a valid number"),
        ("zed,Zed,,,Community,North,astronaut,,", "unknown role 'astronaut'"),
        ("zed,Zed,,,Community,North,line_manager:galaxy,,", "unknown scope 'galaxy'"),
        ("zed,Zed,,,,,line_manager,,", "team-wide but the person has no team"),
        ("zed,Zed,,,Community,North,lone_worker,nobody.here,", "line_manager 'nobody.here'"),
        ("zed,Zed,,,Community,North,lone_worker,,zed", "buddy cannot be the person"),
        ("maria.m,Again,,,Community,North,lone_worker,,", "already on line 2"),
        ("zed,Zed,,,Community,Narth,lone_worker,,", "team 'Narth' does not exist"),
    ],
)
def test_org_01_bad_row_is_reported_by_line_and_nothing_is_applied(org, row, message):
    import_people(GOOD, organisation=org, create_teams=True)
    before = (Person.objects.count(), RoleMembership.objects.count(), Team.objects.count(),
              AuditEvent.objects.count())
    # A good change to an existing person rides along, and must not be applied either.
    text = GOOD.replace("Ben Carter", "Ben Changed") + row + "\n"
    with pytest.raises(ImportFailed) as failure:
        import_people(text, organisation=org)
    assert any(e.startswith("line 7:") and message in e for e in failure.value.errors), \
        failure.value.errors
    assert (Person.objects.count(), RoleMembership.objects.count(), Team.objects.count(),
            AuditEvent.objects.count()) == before
    assert not Person.objects.filter(full_name="Ben Changed").exists()


def test_org_01_missing_column_is_named(org):
    with pytest.raises(ImportFailed) as failure:
        import_people("username,full_name\nzed,Zed\n", organisation=org)
    assert "missing column(s): email, mobile" in failure.value.errors[0]


def test_org_01_import_command_reports_and_exits_nonzero(org, tmp_path, capsys):
    good = tmp_path / "people.csv"
    good.write_text(GOOD)
    call_command("import_people", str(good), "--create-teams")
    assert "5 created" in capsys.readouterr().out
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "zed,Zed,,07,Community,North,lone_worker,,\n")
    with pytest.raises(CommandError, match="nothing was imported: 1 problem"):
        call_command("import_people", str(bad))
    assert "line 2: mobile '07'" in capsys.readouterr().err
