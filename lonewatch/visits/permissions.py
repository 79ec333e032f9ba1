"""What visits declares to the permission engine: sessions, and the buddy's view of
the session they watch (BUD-01, ORG-03)."""

from django.db.models import Q

from lonewatch.core.permissions import (
    ACT,
    CHANGE,
    VIEW,
    Paths,
    Reach,
    declare_kind,
    declare_record,
    declare_relation,
    grant,
    grant_relation,
    grant_self,
)
from lonewatch.org.permissions import CONTACT, LINE_REPORT, NEXT_OF_KIN, PERSON
from lonewatch.org.roles import Role
from lonewatch.visits.models import PlannedVisit, Session

# A lone-working session and its timeline.
SESSION = declare_kind("session", actions=(VIEW, CHANGE))

declare_record(
    Session, kind=SESSION,
    reach=lambda s: Reach(s.worker_id, s.worker.team_id, s.worker.directorate_id,
                          s.worker.organisation_id),
    paths=Paths(organisation="worker__organisation_id",
                directorate="worker__team__directorate_id", team="worker__team_id",
                person="worker_id", worker="worker__", session="pk"))

grant({Role.LINE_MANAGER, Role.SENIOR_MANAGER, Role.SECURITY_MANAGER, Role.ALARM_OPERATOR},
      SESSION, VIEW)
# The worker's own sessions: "change" is checking in, running late and checking out.
grant_self(SESSION, VIEW, CHANGE)
grant_relation(LINE_REPORT, SESSION, VIEW)


def watched_sessions(person):
    """The running sessions ``person`` watches as buddy or cover."""
    return Session.objects.exclude(state=Session.State.ENDED).filter(
        Q(buddy_id=person.pk) | Q(cover_buddy_id=person.pk))


def _watches(user, person, worker_id, obj) -> bool:
    """BUD-01: the buddy (or cover) of a running session sees it, and what belongs to
    it, only while it runs; a record about the worker in general, while any of their
    sessions that this buddy watches runs."""
    if isinstance(obj, Session):
        return obj.state != Session.State.ENDED and person.pk in (obj.buddy_id,
                                                                  obj.cover_buddy_id)
    if hasattr(obj, "session_id"):  # an escalation or an alarm: only that session's
        return obj.session_id is not None and watched_sessions(person).filter(
            pk=obj.session_id).exists()
    return watched_sessions(person).filter(worker_id=worker_id).exists()


def _watched(user, person, record, need) -> Q:
    if record.paths.session:
        return Q(**{f"{record.paths.session}__in": watched_sessions(person).values("pk")})
    return Q(**{f"{record.paths.worker}pk__in" if record.paths.worker else "pk__in":
                watched_sessions(person).values("worker_id")})


# BUD-01, ORG-03: the buddy of a running session sees the worker's movements, contact
# details, next of kin and breaks, only while it runs.
WATCHING_BUDDY = "watching_buddy"
declare_relation(WATCHING_BUDDY, holds=_watches, where=_watched, per_worker=False)
grant_relation(WATCHING_BUDDY, PERSON, VIEW)
grant_relation(WATCHING_BUDDY, CONTACT, VIEW)
grant_relation(WATCHING_BUDDY, NEXT_OF_KIN, VIEW)
grant_relation(WATCHING_BUDDY, SESSION, VIEW)


# MOV-01: the day's plan. The worker keeps their own; their buddy and line managers see
# it; a manager approves an exception for a high-risk visit alone (``act``: never their
# own, PRE-04).
PLANNED_VISIT = declare_kind("planned_visit", actions=(VIEW, CHANGE, ACT))

declare_record(
    PlannedVisit, kind=PLANNED_VISIT,
    reach=lambda v: Reach(v.worker_id, v.worker.team_id, v.worker.directorate_id,
                          v.worker.organisation_id),
    paths=Paths(organisation="worker__organisation_id",
                directorate="worker__team__directorate_id", team="worker__team_id",
                person="worker_id", worker="worker__"))

grant({Role.LINE_MANAGER, Role.SENIOR_MANAGER}, PLANNED_VISIT, VIEW, ACT)
grant_self(PLANNED_VISIT, VIEW, CHANGE)
grant_relation(LINE_REPORT, PLANNED_VISIT, VIEW, ACT)

PLAN_BUDDY = "plan_buddy"
declare_relation(PLAN_BUDDY,
                 holds=lambda user, person, worker_id, obj:
                 isinstance(obj, PlannedVisit) and obj.buddy_id == person.pk,
                 where=lambda user, person, record, need: Q(buddy_id=person.pk),
                 per_worker=False)
grant_relation(PLAN_BUDDY, PLANNED_VISIT, VIEW)
