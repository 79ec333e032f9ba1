"""Roles and how far they reach (ORG-02). What each role may do is declared by each
app, for its own kinds of record, in its ``permissions.py``."""

from django.db import models

from lonewatch.core import permissions


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
    # RSK-07: an executive director, who signs off exceptional security provision.
    EXECUTIVE = "executive", "Executive director"


class Scope(models.TextChoices):
    OWN = permissions.OWN, "Own record"
    TEAM = permissions.TEAM_SCOPE, "Team"
    DIRECTORATE = permissions.DIRECTORATE_SCOPE, "Directorate"
    ORGANISATION = permissions.ORGANISATION, "Whole organisation"


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
    Role.EXECUTIVE: Scope.ORGANISATION,
}

# Everyone who manages people day to day: they see the people and teams they reach.
EVERYDAY_ROLES = frozenset({
    Role.LINE_MANAGER, Role.SENIOR_MANAGER, Role.DIRECTORATE_LEAD, Role.SECURITY_MANAGER,
    Role.SECURITY_DIRECTOR, Role.ALARM_OPERATOR, Role.OCCUPATIONAL_HEALTH, Role.ADMINISTRATOR,
})


def is_privileged(user) -> bool:
    return bool(permissions.roles_of(user) & PRIVILEGED_ROLES)
