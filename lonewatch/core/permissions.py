"""Who may see or do what: one place, deny by default (ORG-02, Q-SEC).

A person's reach comes from role memberships, each with a scope (their own
record, a team, a directorate or the whole organisation), and from a few
relationships that exist regardless of roles (everyone may see their own
record; a line manager sees their direct reports). Anything not granted
here is refused. Views and the API ask ``can`` or ``filter_visible``; they
never decide for themselves.
"""

from dataclasses import dataclass

from django.db import models
from django.db.models import Q


class Role(models.TextChoices):
    LONE_WORKER = "lone_worker", "Lone worker"
    BUDDY = "buddy", "Buddy"
    LINE_MANAGER = "line_manager", "Line manager"
    SENIOR_MANAGER = "senior_manager", "Senior manager (escalation point)"
    SECURITY_MANAGER = "security_manager", "Security manager (LSMS)"
    DIRECTORATE_LEAD = "directorate_lead", "Directorate lead"
    SECURITY_DIRECTOR = "security_director", "Security management director"
    ALARM_OPERATOR = "alarm_operator", "Alarm-centre operator"
    OCCUPATIONAL_HEALTH = "occupational_health", "Occupational health advisor"
    INDEPENDENT_CLINICIAN = "independent_clinician", "Independent senior clinician"
    ADMINISTRATOR = "administrator", "Administrator"


class Scope(models.TextChoices):
    OWN = "own", "Own record"
    TEAM = "team", "Team"
    DIRECTORATE = "directorate", "Directorate"
    ORGANISATION = "organisation", "Whole organisation"


# Roles whose accounts must use a second factor (TOTP).
PRIVILEGED_ROLES = frozenset({Role.SECURITY_MANAGER, Role.ALARM_OPERATOR, Role.ADMINISTRATOR})

# The scope a role gets when an import or form does not name one.
DEFAULT_SCOPE = {
    Role.LONE_WORKER: Scope.OWN,
    Role.BUDDY: Scope.OWN,
    Role.LINE_MANAGER: Scope.TEAM,
    Role.SENIOR_MANAGER: Scope.DIRECTORATE,
    Role.SECURITY_MANAGER: Scope.ORGANISATION,
    Role.DIRECTORATE_LEAD: Scope.DIRECTORATE,
    Role.SECURITY_DIRECTOR: Scope.ORGANISATION,
    Role.ALARM_OPERATOR: Scope.ORGANISATION,
    Role.OCCUPATIONAL_HEALTH: Scope.ORGANISATION,
    Role.INDEPENDENT_CLINICIAN: Scope.ORGANISATION,
    Role.ADMINISTRATOR: Scope.ORGANISATION,
}

# Kinds of record and what can be done to them. "contact" is mobile, email,
# vehicle and breaks; "next_of_kin" is sensitive and every read is audited;
# "fitness" is occupational health's unable-to-work-alone mark.
VIEW, CHANGE = "view", "change"
PERSON, CONTACT, NEXT_OF_KIN, FITNESS = "person", "contact", "next_of_kin", "fitness"
ROLES, TEAM, DIRECTORATE, AUDIT = "roles", "team", "directorate", "audit"

_everyday = {(PERSON, VIEW), (TEAM, VIEW)}

GRANTS: dict[str, frozenset[tuple[str, str]]] = {
    Role.LONE_WORKER: frozenset(),
    Role.BUDDY: frozenset(),
    Role.LINE_MANAGER: frozenset(_everyday | {(CONTACT, VIEW), (FITNESS, VIEW)}),
    Role.SENIOR_MANAGER: frozenset(
        _everyday | {(CONTACT, VIEW), (FITNESS, VIEW), (DIRECTORATE, VIEW)}
    ),
    Role.DIRECTORATE_LEAD: frozenset(_everyday | {(FITNESS, VIEW), (DIRECTORATE, VIEW)}),
    Role.SECURITY_MANAGER: frozenset(
        _everyday | {(CONTACT, VIEW), (DIRECTORATE, VIEW), (AUDIT, VIEW)}
    ),
    Role.SECURITY_DIRECTOR: frozenset(_everyday | {(DIRECTORATE, VIEW), (AUDIT, VIEW)}),
    Role.ALARM_OPERATOR: frozenset(_everyday | {(CONTACT, VIEW)}),
    Role.OCCUPATIONAL_HEALTH: frozenset(_everyday | {(FITNESS, VIEW), (FITNESS, CHANGE)}),
    Role.INDEPENDENT_CLINICIAN: frozenset({(PERSON, VIEW)}),
    Role.ADMINISTRATOR: frozenset(
        _everyday
        | {
            (PERSON, CHANGE), (CONTACT, VIEW), (CONTACT, CHANGE),
            (NEXT_OF_KIN, VIEW), (NEXT_OF_KIN, CHANGE), (FITNESS, VIEW),
            (TEAM, CHANGE), (DIRECTORATE, VIEW), (DIRECTORATE, CHANGE),
            (ROLES, VIEW), (ROLES, CHANGE), (AUDIT, VIEW),
        }
    ),
}

# Everyone's own record, whatever their roles.
SELF_GRANTS = frozenset({
    (PERSON, VIEW), (CONTACT, VIEW), (CONTACT, CHANGE), (NEXT_OF_KIN, VIEW),
    (NEXT_OF_KIN, CHANGE), (FITNESS, VIEW), (ROLES, VIEW),
})
# A line manager's direct reports, even outside the manager's own team.
LINE_REPORT_GRANTS = frozenset({(PERSON, VIEW), (CONTACT, VIEW), (FITNESS, VIEW)})

PERSON_RESOURCES = {PERSON, CONTACT, NEXT_OF_KIN, FITNESS, ROLES}


@dataclass(frozen=True)
class Reach:
    """Where a record sits, for scope checks."""

    person_id: int | None
    team_id: int | None
    directorate_id: int | None
    organisation_id: int


def reach_of(obj) -> Reach:
    from lonewatch.org.models import Directorate, Person, Team

    if isinstance(obj, Person):
        return Reach(obj.pk, obj.team_id, obj.directorate_id, obj.organisation_id)
    if isinstance(obj, Team):
        return Reach(None, obj.pk, obj.directorate_id, obj.directorate.organisation_id)
    if isinstance(obj, Directorate):
        return Reach(None, None, obj.pk, obj.organisation_id)
    raise TypeError(f"no scope rules for {type(obj).__name__}")


def _person(user):
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    return getattr(user, "person", None)


def memberships(user):
    """The user's role memberships, loaded once per request."""
    cached = getattr(user, "_lonewatch_memberships", None)
    if cached is None:
        person = _person(user)
        cached = list(person.roles.all()) if person is not None else []
        user._lonewatch_memberships = cached
    return cached


def roles_of(user) -> set[str]:
    return {m.role for m in memberships(user)}


def is_privileged(user) -> bool:
    return bool(roles_of(user) & PRIVILEGED_ROLES)


def _in_scope(membership, reach: Reach, person) -> bool:
    if membership.scope == Scope.ORGANISATION:
        return reach.organisation_id == person.organisation_id
    if membership.scope == Scope.DIRECTORATE:
        return reach.directorate_id is not None and reach.directorate_id == membership.scope_id
    if membership.scope == Scope.TEAM:
        return reach.team_id is not None and reach.team_id == membership.scope_id
    return reach.person_id is not None and reach.person_id == person.pk


def can(user, action: str, resource: str, obj) -> bool:
    """May ``user`` do ``action`` to ``resource`` of record ``obj``?"""
    person = _person(user)
    if person is None:
        return False
    need = (resource, action)
    reach = reach_of(obj)
    if reach.organisation_id != person.organisation_id:
        return False
    if resource in PERSON_RESOURCES and reach.person_id is not None:
        if reach.person_id == person.pk and need in SELF_GRANTS:
            return True
        if need in LINE_REPORT_GRANTS and getattr(obj, "line_manager_id", None) == person.pk:
            return True
    return any(
        need in GRANTS[m.role] and _in_scope(m, reach, person) for m in memberships(user)
    )


def can_anywhere(user, action: str, resource: str) -> bool:
    """Does any membership grant this at all (for menus and list pages)?"""
    return any((resource, action) in GRANTS[m.role] for m in memberships(user))


def filter_visible(user, queryset, action: str = VIEW, resource: str | None = None):
    """Narrow a queryset of people, teams or directorates to what ``can`` allows."""
    from lonewatch.org.models import Directorate, Person, Team

    model = queryset.model
    resource = resource or {Person: PERSON, Team: TEAM, Directorate: DIRECTORATE}[model]
    person = _person(user)
    if person is None:
        return queryset.none()
    need = (resource, action)
    if model is Person:
        paths = {"person": "pk", "team": "team_id", "directorate": "team__directorate_id",
                 "organisation": "organisation_id"}
    elif model is Team:
        paths = {"person": None, "team": "pk", "directorate": "directorate_id",
                 "organisation": "directorate__organisation_id"}
    else:
        paths = {"person": None, "team": None, "directorate": "pk",
                 "organisation": "organisation_id"}
    allowed = Q(pk__in=[])
    if model is Person:
        if need in SELF_GRANTS:
            allowed |= Q(pk=person.pk)
        if need in LINE_REPORT_GRANTS:
            allowed |= Q(line_manager_id=person.pk)
    for m in memberships(user):
        if need not in GRANTS[m.role]:
            continue
        if m.scope == Scope.ORGANISATION:
            allowed |= Q(**{paths["organisation"]: person.organisation_id})
        elif m.scope == Scope.DIRECTORATE and paths["directorate"]:
            allowed |= Q(**{paths["directorate"]: m.scope_id})
        elif m.scope == Scope.TEAM and paths["team"]:
            allowed |= Q(**{paths["team"]: m.scope_id})
        elif m.scope == Scope.OWN and paths["person"]:
            allowed |= Q(pk=person.pk)
    return queryset.filter(allowed, **{paths["organisation"]: person.organisation_id})
