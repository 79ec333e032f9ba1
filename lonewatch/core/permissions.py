"""Who may see or do what: one place to ask, deny by default (ORG-02, Q-SEC).

This module is the engine; it knows no domain app. Each app declares, in its own
``permissions.py``, loaded by its ``AppConfig.ready()``:

- its **records**: for each model, how to find where a record sits (its
  organisation, directorate, team and the person it is about) in memory
  (``reach``) and as ORM paths (``paths``, for filtering lists);
- its **kinds** of record and what can be done to them: a kind is a name such as
  "session" or "next_of_kin"; several kinds may share one model (a person's contact
  details and their next of kin are both read off a ``Person``);
- **grants**: which role may do what to a kind, within the role's scope (its own
  record, a team, a directorate or the whole organisation);
- **relations**: grants that come from who someone is to the worker, not from a role
  (the line manager of a direct report, the buddy watching a running session), each
  with a test for one record and, where lists need it, a filter.

Anything not granted is refused. Views and the API ask ``can`` or ``filter_visible``
and never decide for themselves. Two rules hold for every kind: nobody outside the
record's organisation gets anything, and nobody acts (``ACT``) on a record about
themselves, whatever their roles.
"""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404

VIEW, CHANGE, ACT = "view", "change", "act"
ACTIONS = (VIEW, CHANGE, ACT)

# How far a role membership reaches. The roles and the names people see live in
# ``org.roles``; the engine only compares these values.
OWN, TEAM_SCOPE, DIRECTORATE_SCOPE, ORGANISATION = "own", "team", "directorate", "organisation"
SCOPE_LEVELS = (OWN, TEAM_SCOPE, DIRECTORATE_SCOPE, ORGANISATION)


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


@dataclass(frozen=True)
class Paths:
    """ORM paths from a model to where its records sit; ``None`` where there is none.

    ``worker`` is the prefix from the model to the person it is about ("" for a person
    itself), used by relations; ``session`` the path to the session it belongs to."""

    organisation: str
    directorate: str | None = None
    team: str | None = None
    person: str | None = None
    worker: str | None = None
    session: str | None = None


@dataclass(frozen=True)
class Record:
    model: type
    reach: Callable[[object], Reach]
    paths: Paths
    kind: str  # the kind a list of these records is filtered as by default
    # Records the person they are about must never see, whatever their roles (MOV-04: a
    # silent duress alarm): a test for one record, and the same as a filter.
    hidden_from_subject: Callable[[object], bool] | None = None
    hidden_where: Q | None = None

    def hides(self, obj, person) -> bool:
        return (self.hidden_from_subject is not None and self.reach(obj).person_id == person.pk
                and self.hidden_from_subject(obj))


@dataclass
class Kind:
    name: str
    actions: frozenset[str]
    # Actions anyone granted them anywhere may take on the organisation's own record
    # (ESC-01: a team manager reads the trust default policy their team follows).
    organisation_wide: frozenset[str] = frozenset()


@dataclass
class Relation:
    """Grants from who someone is to the worker a record is about."""

    name: str
    holds: Callable  # (user, person, worker_id, obj) -> bool
    where: Callable | None = None  # (user, person, record: Record, need) -> Q
    per_worker: bool = True  # the answer depends only on the worker, so it is cached
    grants: set = field(default_factory=set)


_records: dict[type, Record] = {}
_kinds: dict[str, Kind] = {}
_role_grants: dict[str, set[tuple[str, str]]] = {}
_self_grants: set[tuple[str, str]] = set()
_relations: dict[str, Relation] = {}


# Declarations, made by each app's permissions module.

def declare_record(model: type, *, reach: Callable[[object], Reach], paths: Paths,
                   kind: str, hidden_from_subject: Callable[[object], bool] | None = None,
                   hidden_where: Q | None = None) -> None:
    if (hidden_from_subject is None) != (hidden_where is None):
        raise ValueError("hide a record from its subject both as a test and as a filter")
    _records[model] = Record(model, reach, paths, kind, hidden_from_subject, hidden_where)


def declare_kind(name: str, *, actions: Iterable[str] = (VIEW,),
                 organisation_wide: Iterable[str] = ()) -> str:
    actions = frozenset(actions)
    unknown = (actions | frozenset(organisation_wide)) - set(ACTIONS)
    if unknown:
        raise ValueError(f"unknown actions for {name}: {sorted(unknown)}")
    _kinds[name] = Kind(name, actions, frozenset(organisation_wide))
    return name


def grant(roles: Iterable[str], kind: str, *actions: str) -> None:
    """Each of ``roles`` may take ``actions`` on ``kind`` within the membership's scope."""
    for role in roles:
        _role_grants.setdefault(str(role), set()).update(_needs(kind, actions))


def grant_self(kind: str, *actions: str) -> None:
    """Everyone may take ``actions`` on records of ``kind`` about themselves."""
    _self_grants.update(_needs(kind, actions))


def declare_relation(name: str, *, holds: Callable, where: Callable | None = None,
                     per_worker: bool = True) -> None:
    _relations[name] = Relation(name, holds, where, per_worker)


def grant_relation(name: str, kind: str, *actions: str) -> None:
    _relations[name].grants.update(_needs(kind, actions))


def _needs(kind: str, actions) -> set[tuple[str, str]]:
    declared = _kinds[kind].actions
    if not set(actions) <= declared:
        raise ValueError(f"{kind} has no action {sorted(set(actions) - declared)}")
    return {(kind, action) for action in actions}


# What the declarations add up to, for tests and the documentation.

def kinds() -> dict[str, Kind]:
    return dict(_kinds)


def records() -> dict[type, Record]:
    return dict(_records)


def role_grants(role: str) -> frozenset[tuple[str, str]]:
    return frozenset(_role_grants.get(str(role), ()))


def relations() -> dict[str, Relation]:
    return dict(_relations)


def self_grants() -> frozenset[tuple[str, str]]:
    return frozenset(_self_grants)


# Questions, asked by views, the API and actions.

def reach_of(obj) -> Reach:
    record = _records.get(type(obj))
    if record is None:
        raise TypeError(f"no permission rules for {type(obj).__name__}")
    return record.reach(obj)


def _person(user):
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    return getattr(user, "person", None)


def memberships(user) -> list:
    """The user's role memberships (``role``, ``scope``, ``scope_id``), loaded once per
    request.

    Q-SEC: whoever authenticated the request may withhold roles from it (an API token
    with no second factor behind it withholds the privileged roles, see
    ``accounts.actions.authenticate_token``); everything below then sees only the rights
    the remaining roles give. The web session withholds nothing."""
    cached = getattr(user, "_lonewatch_memberships", None)
    if cached is None:
        person = _person(user)
        cached = list(person.roles.all()) if person is not None else []
        withheld = getattr(user, "withheld_roles", ())
        if withheld:
            cached = [m for m in cached if m.role not in withheld]
        user._lonewatch_memberships = cached
    return cached


def roles_of(user) -> set[str]:
    return {m.role for m in memberships(user)}


def in_scope(membership, reach: Reach, person) -> bool:
    if membership.scope == ORGANISATION:
        return reach.organisation_id == person.organisation_id
    if membership.scope == DIRECTORATE_SCOPE:
        return reach.directorate_id is not None and reach.directorate_id == membership.scope_id
    if membership.scope == TEAM_SCOPE:
        return reach.team_id is not None and reach.team_id == membership.scope_id
    return reach.person_id is not None and reach.person_id == person.pk


def role_grants_in_scope(user, need: tuple[str, str], reach: Reach) -> bool:
    """Does one of the user's roles grant ``need`` on a record that sits at ``reach``?"""
    person = _person(user)
    return person is not None and any(
        need in _role_grants.get(m.role, ()) and in_scope(m, reach, person)
        for m in memberships(user))


def can(user, action: str, kind: str, obj) -> bool:
    """May ``user`` take ``action`` on the ``kind`` of record ``obj``?"""
    person = _person(user)
    if person is None:
        return False
    if action not in _kinds[kind].actions:
        return False
    need = (kind, action)
    reach = reach_of(obj)
    if reach.organisation_id != person.organisation_id:
        return False
    if _records[type(obj)].hides(obj, person):
        return False
    if action == ACT and reach.person_id == person.pk:
        return False  # nobody handles their own missed check-in or alarm, whatever their role
    if role_grants_in_scope(user, need, reach):
        return True
    if reach.is_whole_organisation:
        return action in _kinds[kind].organisation_wide and can_anywhere(user, action, kind)
    if reach.person_id is None:
        return False
    if reach.person_id == person.pk:
        return need in _self_grants
    return any(need in relation.grants and _holds(relation, user, person, reach.person_id, obj)
               for relation in _relations.values())


def _holds(relation: Relation, user, person, worker_id: int, obj) -> bool:
    if not relation.per_worker:
        return relation.holds(user, person, worker_id, obj)
    cache = user.__dict__.setdefault("_lonewatch_relations", {})
    key = (relation.name, worker_id)
    if key not in cache:
        cache[key] = relation.holds(user, person, worker_id, obj)
    return cache[key]


def fetch_or_refuse(user, queryset, pk, kind: str, action: str = VIEW, *, missing: str,
                    refused: str = "You do not have permission to do that."):
    """The record ``pk`` of ``queryset`` if ``user`` may see it and take ``action``.

    "Not there" and "not yours" give the same 404, so nobody learns which records exist
    outside their reach; holding a record but lacking the right for ``action`` is 403.
    Each app's ``access_*`` helpers call this, and views and the API call those."""
    obj = queryset.filter(pk=pk).first()
    if obj is None or not can(user, VIEW, kind, obj):
        raise Http404(missing)
    if action != VIEW and not can(user, action, kind, obj):
        raise PermissionDenied(refused)
    return obj


def can_anywhere(user, action: str, kind: str) -> bool:
    """Does any membership grant this at all (for menus and list pages)?"""
    return any((kind, action) in _role_grants.get(m.role, ()) for m in memberships(user))


def scope_filter(membership, paths: Paths, person) -> Q:
    """The records a membership's scope reaches, as a filter."""
    if membership.scope == ORGANISATION:
        return Q(**{paths.organisation: person.organisation_id})
    if membership.scope == DIRECTORATE_SCOPE and paths.directorate:
        return Q(**{paths.directorate: membership.scope_id})
    if membership.scope == TEAM_SCOPE and paths.team:
        return Q(**{paths.team: membership.scope_id})
    if membership.scope == OWN and paths.person:
        # The person's own record, or the records about them (as ``can`` reads it), never
        # a record whose own id happens to equal theirs.
        return Q(**{paths.person: person.pk})
    return Q(pk__in=[])


def filter_visible(user, queryset, action: str = VIEW, kind: str | None = None):
    """Narrow a queryset to the records ``can`` allows."""
    record = _records[queryset.model]
    kind = kind or record.kind
    person = _person(user)
    if person is None or action not in _kinds[kind].actions:
        return queryset.none()
    need = (kind, action)
    paths = record.paths
    allowed = Q(pk__in=[])
    for m in memberships(user):
        if need in _role_grants.get(m.role, ()):
            allowed |= scope_filter(m, paths, person)
    if paths.worker is not None:
        if need in _self_grants:
            allowed |= Q(**{paths.person: person.pk})
        for relation in _relations.values():
            if need in relation.grants and relation.where is not None:
                allowed |= relation.where(user, person, record, need)
    queryset = queryset.filter(allowed, **{paths.organisation: person.organisation_id})
    if record.hidden_where is not None:
        queryset = queryset.exclude(Q(**{paths.person: person.pk}) & record.hidden_where)
    return queryset


def visible_ids(user, model: type, reaches: Mapping[int, Reach]) -> set[int]:
    """Which of these records (id -> where it sits) may ``user`` see?

    The same answer as ``filter_visible``, for the event stream's batches: role scope is
    decided here in memory, so organisation-wide readers (the alarm centre, the security
    manager) cost no query; only records no role reaches go to one ``filter_visible``
    query, for the relations."""
    person = _person(user)
    if person is None:
        return set()
    record = _records[model]
    need = (record.kind, VIEW)
    scoped = [m for m in memberships(user) if need in _role_grants.get(m.role, ())]
    visible, ask = set(), []
    for pk, reach in reaches.items():
        if reach.organisation_id != person.organisation_id:
            continue  # another organisation's record: nobody here sees it
        if record.hidden_where is not None and reach.person_id == person.pk:
            ask.append(pk)  # perhaps hidden from them: the database decides
        elif any(in_scope(m, reach, person) for m in scoped):
            visible.add(pk)
        else:
            ask.append(pk)
    if ask:
        visible.update(filter_visible(user, model.objects.filter(pk__in=ask))
                       .values_list("pk", flat=True))
    return visible


def at(record: Record, field_name: str) -> str:
    """The ORM path from ``record``'s model to a field of the worker it is about."""
    return f"{record.paths.worker}{field_name}" if record.paths.worker else field_name
