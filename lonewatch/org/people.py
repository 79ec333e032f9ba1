"""Who holds a role over a worker: the people a message about them goes to."""

from django.db.models import Q

from lonewatch.org.models import Person
from lonewatch.org.roles import Role, Scope


def role_holders(role: str, worker: Person) -> list[Person]:
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
    return role_holders(Role.LINE_MANAGER, worker)
