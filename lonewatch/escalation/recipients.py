"""Who a step's target is, for one session (ESC-01)."""

from django.db.models import Q

from lonewatch.escalation.models import Target
from lonewatch.org.models import Person
from lonewatch.org.roles import Role, Scope
from lonewatch.visits.models import Session


def _role_holders(role: str, worker: Person) -> list[Person]:
    """People holding ``role`` whose scope reaches the worker."""
    reach = Q(roles__scope=Scope.ORGANISATION)
    if worker.team_id:
        reach |= Q(roles__scope=Scope.TEAM, roles__team_id=worker.team_id)
        reach |= Q(roles__scope=Scope.DIRECTORATE,
                   roles__directorate_id=worker.team.directorate_id)
    return list(
        Person.objects.filter(Q(roles__role=role) & reach, organisation_id=worker.organisation_id,
                              user__is_active=True)
        .exclude(pk=worker.pk).distinct().order_by("full_name")
    )


def line_managers(worker: Person) -> list[Person]:
    manager = worker.line_manager
    if manager is not None and manager.user.is_active:
        return [manager]
    # No line manager recorded (or they have left): the team's line managers instead.
    return _role_holders(Role.LINE_MANAGER, worker)


def resolve(target: str, session: Session) -> list[Person]:
    worker = session.worker
    if target == Target.WORKER:
        return [worker]
    if target == Target.BUDDY:
        return [session.watching_buddy]
    if target == Target.LINE_MANAGER:
        return line_managers(worker)
    if target == Target.SENIOR_MANAGER:
        return _role_holders(Role.SENIOR_MANAGER, worker)
    if target == Target.ALARM_CENTRE:
        return _role_holders(Role.ALARM_OPERATOR, worker)
    if target == Target.POLICE_ADVICE:
        people = line_managers(worker) + _role_holders(Role.SENIOR_MANAGER, worker)
        return list(dict.fromkeys(people))
    raise ValueError(f"unknown target {target!r}")
