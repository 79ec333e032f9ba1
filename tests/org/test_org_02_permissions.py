"""ORG-02 / Q-SEC: every role against every kind of record, inside and outside its scope.

The expectations below are written out by hand from the policy, not derived
from the grant table, so a change to the table that widens access fails here.
"""

import pytest
from django.contrib.auth.models import AnonymousUser

from lonewatch.core import permissions as perms
from lonewatch.core.permissions import CHANGE, VIEW
from lonewatch.org.models import Person, Team
from lonewatch.org.permissions import ABSENCE, CONTACT, FITNESS, NEXT_OF_KIN, PERSON
from lonewatch.org.roles import is_privileged

EVERYONE = {"nina", "sol", "otto", "self"}
# ORG-03: with nothing open, only the alarm centre (at all times, to act at once) and
# administrators (who keep the records) see other people's contact details.
# actor -> (resource, action) -> which of nina (North), sol (South, reports to
# maria), otto (CMHT, other directorate) and the actor's own record they reach.
EXPECTED = {
    "nina": {(PERSON, VIEW): {"self"}, (CONTACT, VIEW): {"self"},
             (NEXT_OF_KIN, VIEW): {"self"}, (FITNESS, VIEW): {"self"},
             (FITNESS, CHANGE): set()},
    "maria": {(PERSON, VIEW): {"nina", "sol", "self"}, (CONTACT, VIEW): {"self"},
              (NEXT_OF_KIN, VIEW): {"self"}, (FITNESS, VIEW): {"nina", "sol", "self"},
              (FITNESS, CHANGE): set()},
    "sarah": {(PERSON, VIEW): {"nina", "sol", "self"}, (CONTACT, VIEW): {"self"},
              (NEXT_OF_KIN, VIEW): {"self"}, (FITNESS, VIEW): {"nina", "sol", "self"},
              (FITNESS, CHANGE): set()},
    "claire": {(PERSON, VIEW): {"nina", "sol", "self"}, (CONTACT, VIEW): {"self"},
               (NEXT_OF_KIN, VIEW): {"self"}, (FITNESS, VIEW): {"nina", "sol", "self"},
               (FITNESS, CHANGE): set()},
    "leslie": {(PERSON, VIEW): EVERYONE, (CONTACT, VIEW): {"self"},
               (NEXT_OF_KIN, VIEW): {"self"}, (FITNESS, VIEW): {"self"},
               (FITNESS, CHANGE): set()},
    "anita": {(PERSON, VIEW): EVERYONE, (CONTACT, VIEW): {"self"},
              (NEXT_OF_KIN, VIEW): {"self"}, (FITNESS, VIEW): {"self"},
              (FITNESS, CHANGE): set()},
    "olivia": {(PERSON, VIEW): EVERYONE, (CONTACT, VIEW): EVERYONE,
               (NEXT_OF_KIN, VIEW): {"self"}, (FITNESS, VIEW): {"self"},
               (FITNESS, CHANGE): set()},
    "helen": {(PERSON, VIEW): EVERYONE, (CONTACT, VIEW): {"self"},
              (NEXT_OF_KIN, VIEW): {"self"}, (FITNESS, VIEW): EVERYONE,
              (FITNESS, CHANGE): EVERYONE},
    "jo": {(PERSON, VIEW): EVERYONE, (CONTACT, VIEW): {"self"},
           (NEXT_OF_KIN, VIEW): {"self"}, (FITNESS, VIEW): {"self"},
           (FITNESS, CHANGE): set()},
    "adam": {(PERSON, VIEW): EVERYONE, (CONTACT, VIEW): EVERYONE,
             (NEXT_OF_KIN, VIEW): EVERYONE, (FITNESS, VIEW): EVERYONE,
             (FITNESS, CHANGE): set()},
    "marcus": {(PERSON, VIEW): {"otto", "self"}, (CONTACT, VIEW): {"self"},
               (NEXT_OF_KIN, VIEW): {"self"}, (FITNESS, VIEW): {"otto", "self"},
               (FITNESS, CHANGE): set()},
    "otto": {(PERSON, VIEW): {"self"}, (CONTACT, VIEW): {"self"},
             (NEXT_OF_KIN, VIEW): {"self"}, (FITNESS, VIEW): {"self"},
             (FITNESS, CHANGE): set()},
}
# actor -> teams they may view
EXPECTED_TEAMS = {
    "nina": set(), "otto": set(), "jo": set(),
    "maria": {"North"}, "marcus": {"CMHT"},
    "sarah": {"North", "South"}, "claire": {"North", "South"},
    "leslie": {"North", "South", "CMHT"}, "anita": {"North", "South", "CMHT"},
    "olivia": {"North", "South", "CMHT"}, "helen": {"North", "South", "CMHT"},
    "adam": {"North", "South", "CMHT"},
}
AUDIT_READERS = {"leslie", "anita", "adam"}


def _targets(trust, actor):
    return {"nina": trust.people["nina"], "sol": trust.people["sol"],
            "otto": trust.people["otto"], "self": trust.people[actor]}


@pytest.mark.parametrize("actor", sorted(EXPECTED))
def test_org_02_person_matrix(trust, actor):
    user = trust.people[actor].user
    wrong = []
    for (resource, action), allowed in EXPECTED[actor].items():
        for label, target in _targets(trust, actor).items():
            if label != "self" and trust.people[actor] == target:
                continue  # the actor's own record is checked under "self"
            got = perms.can(user, action, resource, target)
            want = label in allowed
            if got != want:
                wrong.append(f"{resource}:{action} on {label}: got {got}, want {want}")
    assert not wrong, f"{actor}: " + "; ".join(wrong)


@pytest.mark.parametrize("actor", sorted(EXPECTED_TEAMS))
def test_org_02_team_matrix(trust, actor):
    user = trust.people[actor].user
    for team in Team.objects.all():
        assert perms.can(user, VIEW, "team", team) == (team.name in EXPECTED_TEAMS[actor]), \
            f"{actor} viewing team {team}"
    visible = set(perms.filter_visible(user, Team.objects.all()).values_list("name", flat=True))
    assert visible == EXPECTED_TEAMS[actor]


@pytest.mark.parametrize("actor", sorted(EXPECTED))
def test_org_02_lists_agree_with_single_checks(trust, actor):
    """A list never shows a record that opening it would refuse, and the reverse."""
    user = trust.people[actor].user
    for resource in (PERSON, CONTACT, NEXT_OF_KIN, FITNESS, ABSENCE):
        listed = set(perms.filter_visible(user, Person.objects.all(), kind=resource))
        single = {p for p in Person.objects.all() if perms.can(user, VIEW, resource, p)}
        assert listed == single, f"{actor} {resource}"


@pytest.mark.parametrize("actor", sorted(EXPECTED))
def test_org_02_audit_trail_only_for_security_and_admin(trust, actor):
    assert perms.can_anywhere(trust.people[actor].user, VIEW, "audit") == (
        actor in AUDIT_READERS)


def test_org_02_outsider_and_anonymous_see_nothing(trust):
    anonymous = AnonymousUser()
    for person in Person.objects.all():
        for resource in (PERSON, CONTACT, NEXT_OF_KIN, FITNESS):
            assert not perms.can(anonymous, VIEW, resource, person)
    assert not perms.filter_visible(anonymous, Person.objects.all()).exists()


def test_org_02_login_without_person_sees_nothing(trust, django_user_model):
    stray = django_user_model.objects.create_user(username="stray", password="x" * 12)
    assert not perms.filter_visible(stray, Person.objects.all()).exists()
    assert not perms.can(stray, VIEW, PERSON, trust.people["nina"])


def test_org_02_deactivated_account_loses_everything(trust):
    admin = trust.people["adam"].user
    admin.is_active = False
    admin.save()
    assert not perms.can(admin, VIEW, PERSON, trust.people["nina"])


def test_org_02_other_organisation_is_invisible_even_to_organisation_roles(trust):
    from lonewatch.accounts.models import User
    from lonewatch.org.models import Organisation

    other = Organisation.objects.create(name="Other Trust")
    stranger = Person.objects.create(user=User.objects.create_user("stranger"),
                                     organisation=other, full_name="Stranger")
    for actor in ("leslie", "adam", "olivia", "helen"):
        assert not perms.can(trust.people[actor].user, VIEW, PERSON, stranger)
        assert stranger not in perms.filter_visible(trust.people[actor].user,
                                                    Person.objects.all())


def test_org_02_privileged_roles_are_security_operator_and_admin(trust):
    privileged = {name for name, p in trust.people.items() if is_privileged(p.user)}
    assert privileged == {"leslie", "olivia", "adam"}
