"""Who a step's target is, for one session (ESC-01)."""

from lonewatch.escalation.models import Target
from lonewatch.org.models import Person
from lonewatch.org.people import line_managers, role_holders
from lonewatch.org.roles import Role
from lonewatch.visits.models import Session


def resolve(target: str, session: Session) -> list[Person]:
    worker = session.worker
    if target == Target.WORKER:
        return [worker]
    if target == Target.BUDDY:
        return [session.watching_buddy]
    if target == Target.LINE_MANAGER:
        return line_managers(worker)
    if target == Target.SENIOR_MANAGER:
        return role_holders(Role.SENIOR_MANAGER, worker)
    if target == Target.ALARM_CENTRE:
        return role_holders(Role.ALARM_OPERATOR, worker)
    if target == Target.POLICE_ADVICE:
        people = line_managers(worker) + role_holders(Role.SENIOR_MANAGER, worker)
        return list(dict.fromkeys(people))
    raise ValueError(f"unknown target {target!r}")
