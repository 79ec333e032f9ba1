"""What escalation declares to the permission engine: running escalations, the
policies teams follow, and what an escalation point sees while one is open (ESC-01,
ESC-02, ORG-03)."""

from django.db.models import Q

from lonewatch.core.permissions import (
    ACT,
    CHANGE,
    VIEW,
    Paths,
    Reach,
    at,
    declare_kind,
    declare_record,
    declare_relation,
    grant,
    grant_relation,
    grant_self,
    in_scope,
    memberships,
    reach_of,
    roles_of,
    scope_filter,
)
from lonewatch.escalation.models import Escalation
from lonewatch.org.models import Person
from lonewatch.org.permissions import CONTACT, LINE_REPORT, NEXT_OF_KIN
from lonewatch.org.roles import Role
from lonewatch.visits.permissions import WATCHING_BUDDY

# An escalation of a missed check-in; "act" is acknowledging and resolving it.
ESCALATION = declare_kind("escalation", actions=(VIEW, ACT))
# The steps a team's escalations follow (read off a team, or off the organisation for
# its default). ESC-01: the organisation's default is what every team without its own
# follows, so a team's managers may read it; changing it needs a role scoped to the
# whole organisation.
POLICY = declare_kind("escalation_policy", actions=(VIEW, CHANGE), organisation_wide=(VIEW,))

declare_record(
    Escalation, kind=ESCALATION,
    reach=lambda e: Reach(e.session.worker_id, e.session.worker.team_id,
                          e.session.worker.directorate_id, e.session.worker.organisation_id),
    paths=Paths(organisation="session__worker__organisation_id",
                directorate="session__worker__team__directorate_id",
                team="session__worker__team_id", person="session__worker_id",
                worker="session__worker__", session="session_id"))

ESCALATION_POINT_ROLES = frozenset({Role.LINE_MANAGER, Role.SENIOR_MANAGER,
                                    Role.SECURITY_MANAGER, Role.ALARM_OPERATOR})

grant(ESCALATION_POINT_ROLES, ESCALATION, VIEW, ACT)
grant({Role.LINE_MANAGER, Role.SENIOR_MANAGER, Role.SECURITY_MANAGER, Role.ADMINISTRATOR},
      POLICY, VIEW, CHANGE)
# Workers see their own escalations (and end them by checking in) but never
# acknowledge on someone's behalf.
grant_self(ESCALATION, VIEW)
grant_relation(LINE_REPORT, ESCALATION, VIEW, ACT)
grant_relation(WATCHING_BUDDY, ESCALATION, VIEW, ACT)


def _is_escalation_point(user, person, worker_id, obj) -> bool:
    if not roles_of(user) & ESCALATION_POINT_ROLES or not Escalation.objects.filter(
            session__worker_id=worker_id).exclude(state=Escalation.State.RESOLVED).exists():
        return False
    worker = Person.objects.select_related("team").get(pk=worker_id)
    reach = reach_of(worker)
    return worker.line_manager_id == person.pk or any(
        m.role in ESCALATION_POINT_ROLES and in_scope(m, reach, person)
        for m in memberships(user))


def _escalation_points(user, person, record, need) -> Q:
    if not roles_of(user) & ESCALATION_POINT_ROLES:
        return Q(pk__in=[])
    worker = Paths(organisation=at(record, "organisation_id"),
                   directorate=at(record, "team__directorate_id"), team=at(record, "team_id"),
                   person=at(record, "pk"))
    points = Q(**{at(record, "line_manager_id"): person.pk})
    for m in memberships(user):
        if m.role in ESCALATION_POINT_ROLES:
            points |= scope_filter(m, worker, person)
    escalated = Escalation.objects.exclude(state=Escalation.State.RESOLVED).values(
        "session__worker_id")
    return Q(**{f"{at(record, 'pk')}__in": escalated}) & points


# ORG-03: escalation points see the worker's contact details and next of kin while an
# escalation about the worker is open.
ESCALATION_POINT = "escalation_point"
declare_relation(ESCALATION_POINT, holds=_is_escalation_point, where=_escalation_points)
grant_relation(ESCALATION_POINT, CONTACT, VIEW)
grant_relation(ESCALATION_POINT, NEXT_OF_KIN, VIEW)
