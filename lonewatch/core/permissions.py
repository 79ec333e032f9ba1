"""Who may see or do what: one place, deny by default (ORG-02, Q-SEC).

A person's reach comes from role memberships, each with a scope (their own
record, a team, a directorate or the whole organisation), and from a few
relationships that exist regardless of roles (everyone may see their own
record; a line manager sees their direct reports). Anything not granted
here is refused. Views and the API ask ``can`` or ``filter_visible``; they
never decide for themselves.
"""

from collections.abc import Mapping
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
VIEW, CHANGE, ACT = "view", "change", "act"
PERSON, CONTACT, NEXT_OF_KIN, FITNESS = "person", "contact", "next_of_kin", "fitness"
ROLES, TEAM, DIRECTORATE, AUDIT = "roles", "team", "directorate", "audit"
# A lone-working session and its timeline; "act" on an escalation is acknowledge/resolve.
SESSION, ESCALATION, POLICY = "session", "escalation", "escalation_policy"
# Leave, sickness, off duty: a buddy who is away cannot watch a session (BUD-02).
ABSENCE = "absence"
# Amber and red alerts; "act" is the alarm centre's handling of them.
ALARM = "alarm"
# ORG-06: a person's second factor; "change" is opening enrolment of a first
# authenticator app for them.
SECOND_FACTOR = "second_factor"

_everyday = {(PERSON, VIEW), (TEAM, VIEW)}

GRANTS: dict[str, frozenset[tuple[str, str]]] = {
    Role.LONE_WORKER: frozenset(),
    Role.BUDDY: frozenset(),
    Role.LINE_MANAGER: frozenset(
        _everyday | {(CONTACT, VIEW), (FITNESS, VIEW), (SESSION, VIEW), (ESCALATION, VIEW),
                     (ALARM, VIEW),
                     (ESCALATION, ACT), (POLICY, VIEW), (POLICY, CHANGE), (ABSENCE, VIEW),
                     (ABSENCE, CHANGE)}
    ),
    Role.SENIOR_MANAGER: frozenset(
        _everyday | {(CONTACT, VIEW), (FITNESS, VIEW), (DIRECTORATE, VIEW), (SESSION, VIEW),
                     (ESCALATION, VIEW), (ESCALATION, ACT), (POLICY, VIEW), (POLICY, CHANGE),
                     (ABSENCE, VIEW), (ABSENCE, CHANGE), (ALARM, VIEW)}
    ),
    Role.DIRECTORATE_LEAD: frozenset(_everyday | {(FITNESS, VIEW), (DIRECTORATE, VIEW)}),
    Role.SECURITY_MANAGER: frozenset(
        _everyday | {(CONTACT, VIEW), (DIRECTORATE, VIEW), (AUDIT, VIEW), (SESSION, VIEW),
                     (ESCALATION, VIEW), (ESCALATION, ACT), (POLICY, VIEW), (POLICY, CHANGE),
                     (ALARM, VIEW), (ALARM, ACT)}
    ),
    Role.SECURITY_DIRECTOR: frozenset(_everyday | {(DIRECTORATE, VIEW), (AUDIT, VIEW)}),
    Role.ALARM_OPERATOR: frozenset(
        _everyday | {(CONTACT, VIEW), (SESSION, VIEW), (ESCALATION, VIEW), (ESCALATION, ACT),
                     (ALARM, VIEW), (ALARM, ACT)}
    ),
    Role.OCCUPATIONAL_HEALTH: frozenset(_everyday | {(FITNESS, VIEW), (FITNESS, CHANGE)}),
    Role.INDEPENDENT_CLINICIAN: frozenset({(PERSON, VIEW)}),
    Role.ADMINISTRATOR: frozenset(
        _everyday
        | {
            (PERSON, CHANGE), (CONTACT, VIEW), (CONTACT, CHANGE),
            (NEXT_OF_KIN, VIEW), (NEXT_OF_KIN, CHANGE), (FITNESS, VIEW),
            (TEAM, CHANGE), (DIRECTORATE, VIEW), (DIRECTORATE, CHANGE),
            (ROLES, VIEW), (ROLES, CHANGE), (AUDIT, VIEW), (POLICY, VIEW), (POLICY, CHANGE),
            (ABSENCE, VIEW), (ABSENCE, CHANGE), (SECOND_FACTOR, CHANGE),
        }
    ),
}

# Everyone's own record, whatever their roles.
SELF_GRANTS = frozenset({
    (PERSON, VIEW), (CONTACT, VIEW), (CONTACT, CHANGE), (NEXT_OF_KIN, VIEW),
    (NEXT_OF_KIN, CHANGE), (FITNESS, VIEW), (ROLES, VIEW), (ABSENCE, VIEW), (ABSENCE, CHANGE),
})
# A line manager's direct reports, even outside the manager's own team.
LINE_REPORT_GRANTS = frozenset({
    (PERSON, VIEW), (CONTACT, VIEW), (FITNESS, VIEW), (SESSION, VIEW), (ESCALATION, VIEW),
    (ESCALATION, ACT), (ABSENCE, VIEW), (ABSENCE, CHANGE), (ALARM, VIEW),
})
# BUD-01, ORG-03: the buddy of a running session sees the worker's movements, contact
# details, next of kin and breaks, and can act on its escalation, only while it runs.
WATCHING_BUDDY_GRANTS = frozenset({
    (PERSON, VIEW), (CONTACT, VIEW), (NEXT_OF_KIN, VIEW), (SESSION, VIEW), (ESCALATION, VIEW),
    (ESCALATION, ACT), (ALARM, VIEW),
})
# ORG-03: escalation points see next of kin while an escalation about the worker is open.
ESCALATION_POINT_GRANTS = frozenset({(NEXT_OF_KIN, VIEW)})
# ALM-02: whoever handles alarms for the worker sees their next of kin while a red alarm
# of theirs is open (the police will ask).
ALARM_HANDLER_GRANTS = frozenset({(NEXT_OF_KIN, VIEW)})
ESCALATION_POINT_ROLES = frozenset({Role.LINE_MANAGER, Role.SENIOR_MANAGER,
                                    Role.SECURITY_MANAGER, Role.ALARM_OPERATOR})

PERSON_RESOURCES = {PERSON, CONTACT, NEXT_OF_KIN, FITNESS, ROLES, ABSENCE, SECOND_FACTOR}
WORK_RESOURCES = {SESSION, ESCALATION, ALARM}


@dataclass(frozen=True)
class Reach:
    """Where a record sits, for scope checks."""

    person_id: int | None
    team_id: int | None
    directorate_id: int | None
    organisation_id: int

    @property
    def is_whole_organisation(self) -> bool:
        return self.person_id is None and self.team_id is None and self.directorate_id is None


# Records of the whole organisation that anyone whose role grants the right anywhere may
# see. ESC-01: the organisation's default escalation policy is what every team without
# its own follows, so a team's managers may read it; changing it still needs a role
# scoped to the whole organisation.
ORGANISATION_READ_GRANTS = frozenset({(POLICY, VIEW)})


def reach_of(obj) -> Reach:
    from lonewatch.alarms.models import Alarm
    from lonewatch.escalation.models import Escalation
    from lonewatch.org.models import Directorate, Organisation, Person, Team
    from lonewatch.visits.models import Session

    if isinstance(obj, Escalation):
        obj = obj.session
    if isinstance(obj, Session | Alarm):
        obj = obj.worker
    if isinstance(obj, Person):
        return Reach(obj.pk, obj.team_id, obj.directorate_id, obj.organisation_id)
    if isinstance(obj, Team):
        return Reach(None, obj.pk, obj.directorate_id, obj.directorate.organisation_id)
    if isinstance(obj, Directorate):
        return Reach(None, None, obj.pk, obj.organisation_id)
    if isinstance(obj, Organisation):
        # The organisation itself: only memberships scoped to the whole organisation reach it.
        return Reach(None, None, None, obj.pk)
    raise TypeError(f"no scope rules for {type(obj).__name__}")


def _person(user):
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    return getattr(user, "person", None)


def memberships(user):
    """The user's role memberships, loaded once per request.

    Q-SEC: a request made with an API token that has no second factor behind it (see
    ``accounts.models.ApiToken``) is marked ``privileged_roles_withheld``; for it the
    privileged roles are left out here, so everything below sees only the rights any
    worker has, and on their own record. The web session is never marked."""
    cached = getattr(user, "_lonewatch_memberships", None)
    if cached is None:
        person = _person(user)
        cached = list(person.roles.all()) if person is not None else []
        if getattr(user, "privileged_roles_withheld", False):
            cached = [m for m in cached if m.role not in PRIVILEGED_ROLES]
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
    if action == ACT and resource in (ESCALATION, ALARM) and reach.person_id == person.pk:
        return False  # nobody handles their own missed check-in or alarm, whatever their role
    if any(need in GRANTS[m.role] and _in_scope(m, reach, person) for m in memberships(user)):
        return True
    if reach.is_whole_organisation:
        return need in ORGANISATION_READ_GRANTS and can_anywhere(user, action, resource)
    if reach.person_id is None or resource not in PERSON_RESOURCES | WORK_RESOURCES:
        return False
    if reach.person_id == person.pk:
        return need in SELF_GRANTS | OWN_WORK_GRANTS
    if need in _relationship_grants(user, person, reach.person_id):
        return True
    return need in WATCHING_BUDDY_GRANTS and _watches(person, obj)


def _watches(person, obj) -> bool:
    """Is ``person`` the buddy (or cover) of this open session, or of one the worker has open?"""
    from lonewatch.alarms.models import Alarm
    from lonewatch.escalation.models import Escalation
    from lonewatch.org.models import Person
    from lonewatch.visits.models import Session

    if isinstance(obj, Alarm):
        obj = obj.worker
    if isinstance(obj, Escalation):
        obj = obj.session
    if isinstance(obj, Session):
        return obj.state != "ended" and person.pk in (obj.buddy_id, obj.cover_buddy_id)
    if isinstance(obj, Person):
        return Session.objects.filter(worker_id=obj.pk).exclude(state="ended").filter(
            Q(buddy_id=person.pk) | Q(cover_buddy_id=person.pk)).exists()
    return False


# A worker's own sessions and escalations (they may resolve their own by checking in,
# but never acknowledge on someone's behalf). ALM-01, ALM-02: "change" on their own
# alarm is what their phone adds to it (audio, a voice memo, locations); nobody else
# holds it, whatever their role.
OWN_WORK_GRANTS = frozenset({(SESSION, VIEW), (SESSION, CHANGE), (ESCALATION, VIEW),
                             (ALARM, VIEW), (ALARM, CHANGE)})


def _relationship_grants(user, person, worker_id: int) -> frozenset:
    """Grants that come from who someone is to the worker, not from a role."""
    from lonewatch.escalation.models import Escalation
    from lonewatch.org.models import Person

    cache = user.__dict__.setdefault("_lonewatch_relations", {})
    if worker_id in cache:
        return cache[worker_id]
    grants = set()
    if Person.objects.filter(pk=worker_id, line_manager_id=person.pk).exists():
        grants |= LINE_REPORT_GRANTS
    if roles_of(user) & ESCALATION_POINT_ROLES and Escalation.objects.filter(
            session__worker_id=worker_id).exclude(state="resolved").exists():
        worker = Person.objects.select_related("team").get(pk=worker_id)
        reach = reach_of(worker)
        if worker.line_manager_id == person.pk or any(
            m.role in ESCALATION_POINT_ROLES and _in_scope(m, reach, person)
            for m in memberships(user)
        ):
            grants |= ESCALATION_POINT_GRANTS
    if any((ALARM, ACT) in GRANTS[m.role] for m in memberships(user)) and _open_red_alarm(
            worker_id):
        reach = reach_of(Person.objects.select_related("team").get(pk=worker_id))
        if any((ALARM, ACT) in GRANTS[m.role] and _in_scope(m, reach, person)
               for m in memberships(user)):
            grants |= ALARM_HANDLER_GRANTS
    cache[worker_id] = frozenset(grants)
    return cache[worker_id]


def _open_red_alarm(worker_id: int) -> bool:
    from lonewatch.alarms.models import Alarm

    return Alarm.objects.filter(worker_id=worker_id, kind=Alarm.Kind.RED).exclude(
        state=Alarm.State.CLOSED).exists()


def can_anywhere(user, action: str, resource: str) -> bool:
    """Does any membership grant this at all (for menus and list pages)?"""
    return any((resource, action) in GRANTS[m.role] for m in memberships(user))


def filter_visible(user, queryset, action: str = VIEW, resource: str | None = None):
    """Narrow a queryset of people, teams, directorates, sessions or escalations to what
    ``can`` allows."""
    from lonewatch.alarms.models import Alarm
    from lonewatch.escalation.models import Escalation
    from lonewatch.org.models import Directorate, Person, Team
    from lonewatch.visits.models import Session

    model = queryset.model
    resource = resource or {Person: PERSON, Team: TEAM, Directorate: DIRECTORATE,
                            Session: SESSION, Escalation: ESCALATION, Alarm: ALARM}[model]
    person = _person(user)
    if person is None:
        return queryset.none()
    need = (resource, action)
    worker = {Person: "", Session: "worker__", Escalation: "session__worker__",
              Alarm: "worker__"}.get(model)
    if worker is not None:
        paths = {"person": f"{worker}pk" if worker else "pk", "team": f"{worker}team_id",
                 "directorate": f"{worker}team__directorate_id",
                 "organisation": f"{worker}organisation_id"}
    elif model is Team:
        paths = {"person": None, "team": "pk", "directorate": "directorate_id",
                 "organisation": "directorate__organisation_id"}
    else:
        paths = {"person": None, "team": None, "directorate": "pk",
                 "organisation": "organisation_id"}
    allowed = Q(pk__in=[])
    for m in memberships(user):
        if need in GRANTS[m.role]:
            allowed |= _scope_q(m, paths, person)
    if worker is not None:
        allowed |= _relationship_q(user, person, need, model, worker)
    return queryset.filter(allowed, **{paths["organisation"]: person.organisation_id})


def visible_alarm_ids(user, reaches: Mapping[int, Reach]) -> set[int]:
    """Which of these alarms (alarm id -> where its worker sits) may ``user`` see?

    The same answer as ``filter_visible`` on those alarms, for the event stream's
    batches: role scope is decided here in memory, so the alarm centre and the security
    manager (organisation-wide) cost no query; only alarms no role reaches go to one
    ``filter_visible`` query, for the relationships (own, line report, watching buddy).
    """
    person = _person(user)
    if person is None:
        return set()
    need = (ALARM, VIEW)
    scoped = [m for m in memberships(user) if need in GRANTS[m.role]]
    visible, ask = set(), []
    for alarm_id, reach in reaches.items():
        if reach.organisation_id != person.organisation_id:
            continue  # another organisation's alarm: nobody here sees it
        if any(_in_scope(m, reach, person) for m in scoped):
            visible.add(alarm_id)
        else:
            ask.append(alarm_id)
    if ask:
        from lonewatch.alarms.models import Alarm

        visible.update(filter_visible(user, Alarm.objects.filter(pk__in=ask))
                       .values_list("pk", flat=True))
    return visible


def _scope_q(membership, paths: dict, person) -> Q:
    """The records a membership's scope reaches, as a filter."""
    if membership.scope == Scope.ORGANISATION:
        return Q(**{paths["organisation"]: person.organisation_id})
    if membership.scope == Scope.DIRECTORATE and paths["directorate"]:
        return Q(**{paths["directorate"]: membership.scope_id})
    if membership.scope == Scope.TEAM and paths["team"]:
        return Q(**{paths["team"]: membership.scope_id})
    if membership.scope == Scope.OWN and paths["person"]:
        # The person's own record, or the sessions and alarms about them (as ``can`` reads
        # it), never a session or alarm whose own id happens to equal theirs.
        return Q(**{paths["person"]: person.pk})
    return Q(pk__in=[])


def _relationship_q(user, person, need, model, worker: str) -> Q:
    """The filter form of the grants in ``can`` that come from relationships.

    ``worker`` is the path from the model to the worker ("" for Person itself).
    """
    from lonewatch.escalation.models import Escalation
    from lonewatch.visits.models import Session

    def at(field):
        return f"{worker}{field}" if worker else field

    allowed = Q(pk__in=[])
    if need in (SELF_GRANTS | OWN_WORK_GRANTS if worker else SELF_GRANTS):
        allowed |= Q(**{at("pk"): person.pk})
    if need in LINE_REPORT_GRANTS:
        allowed |= Q(**{at("line_manager_id"): person.pk})
    if need in WATCHING_BUDDY_GRANTS:
        if model is Session or model is Escalation:
            prefix = "session__" if model is Escalation else ""
            allowed |= ~Q(**{f"{prefix}state": "ended"}) & (
                Q(**{f"{prefix}buddy_id": person.pk})
                | Q(**{f"{prefix}cover_buddy_id": person.pk}))
        else:
            watched = Session.objects.exclude(state="ended").filter(
                Q(buddy_id=person.pk) | Q(cover_buddy_id=person.pk)).values("worker_id")
            allowed |= Q(**{f"{at('pk')}__in": watched})
    if need in ESCALATION_POINT_GRANTS and roles_of(user) & ESCALATION_POINT_ROLES:
        points = Q(**{at("line_manager_id"): person.pk})
        paths = {"person": at("pk"), "team": at("team_id"),
                 "directorate": at("team__directorate_id"), "organisation": at("organisation_id")}
        for m in memberships(user):
            if m.role in ESCALATION_POINT_ROLES:
                points |= _scope_q(m, paths, person)
        escalated = Escalation.objects.exclude(state="resolved").values("session__worker_id")
        allowed |= Q(**{f"{at('pk')}__in": escalated}) & points
    return allowed
