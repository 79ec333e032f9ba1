"""What alarms declares to the permission engine: amber and red alerts, and what the
alarm centre sees while a red alarm is open (ALM-02, ORG-03)."""

from django.db.models import Q

from lonewatch.alarms.models import Alarm
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
    reach_of,
    role_grants_in_scope,
)
from lonewatch.org.models import Person
from lonewatch.org.permissions import CONTACT, LINE_REPORT, NEXT_OF_KIN
from lonewatch.org.roles import Role
from lonewatch.visits.permissions import WATCHING_BUDDY

# Amber and red alerts; "act" is the alarm centre's handling of them; "change" is
# what the worker's own phone adds to their alarm (audio, a voice memo, locations).
ALARM = declare_kind("alarm", actions=(VIEW, CHANGE, ACT))

declare_record(
    Alarm, kind=ALARM,
    reach=lambda a: Reach(a.worker_id, a.worker.team_id, a.worker.directorate_id,
                          a.worker.organisation_id),
    paths=Paths(organisation="worker__organisation_id",
                directorate="worker__team__directorate_id", team="worker__team_id",
                person="worker_id", worker="worker__", session="session_id"),
    # MOV-04: a silent alarm from the duress PIN at check-out is never the worker's to
    # see, whatever roles they hold.
    hidden_from_subject=lambda a: a.hidden_from_worker,
    hidden_where=Q(hidden_from_worker=True))

grant({Role.LINE_MANAGER, Role.SENIOR_MANAGER, Role.SECURITY_MANAGER, Role.ALARM_OPERATOR},
      ALARM, VIEW)
grant({Role.SECURITY_MANAGER, Role.ALARM_OPERATOR}, ALARM, ACT)
# ALM-05: the security manager re-categorises a closed alarm.
ALARM_CATEGORY = declare_kind("alarm_category", actions=(CHANGE,))
grant({Role.SECURITY_MANAGER}, ALARM_CATEGORY, CHANGE)
# ALM-01, ALM-02: nobody but the worker adds to their alarm, whatever their role.
grant_self(ALARM, VIEW, CHANGE)
grant_relation(LINE_REPORT, ALARM, VIEW)
grant_relation(WATCHING_BUDDY, ALARM, VIEW)


def _handles_open_red_alarm(user, person, worker_id, obj) -> bool:
    """Whoever handles alarms for the worker, while a red alarm of theirs is open."""
    if not Alarm.objects.filter(worker_id=worker_id, kind=Alarm.Kind.RED).exclude(
            state=Alarm.State.CLOSED).exists():
        return False
    worker = Person.objects.select_related("team").get(pk=worker_id)
    return role_grants_in_scope(user, (ALARM, ACT), reach_of(worker))


# ALM-02, ORG-03: whoever handles the worker's alarms (the security manager too) sees
# their contact details and next of kin while a red alarm of theirs is open (the police
# will ask).
ALARM_HANDLER = "alarm_handler"
declare_relation(ALARM_HANDLER, holds=_handles_open_red_alarm)
grant_relation(ALARM_HANDLER, CONTACT, VIEW)
grant_relation(ALARM_HANDLER, NEXT_OF_KIN, VIEW)
