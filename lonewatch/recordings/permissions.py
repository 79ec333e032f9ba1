"""What recordings declares to the permission engine (REC-03).

A recording is evidence. While its alarm is being handled, the operators on duty hear
it; after that, only the security manager plays or downloads it (and the police,
through an approved access request's link, which needs no account). Nobody else: not
the worker, the buddy or a manager, whatever they may see of the alarm itself.
"""

from datetime import timedelta

from lonewatch import clock
from lonewatch.alarms.models import Alarm, OperatorDuty
from lonewatch.alarms.permissions import ALARM
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
    reach_of,
    role_grants_in_scope,
)
from lonewatch.org.roles import Role
from lonewatch.recordings.models import Hold, Recording, Review

# "view" is playing, downloading or listing the takes of a recording; "change" is
# placing or releasing a legal hold.
RECORDING = declare_kind("recording", actions=(VIEW, CHANGE))
# REC-04: the security manager's review of an alarm.
REVIEW = declare_kind("review", actions=(VIEW, CHANGE))
# What the destruction log and the holds are read as: the trust's own records.
RETENTION = declare_kind("retention", actions=(VIEW,))


def _reach_of_alarm(alarm: Alarm) -> Reach:
    return Reach(alarm.worker_id, alarm.worker.team_id, alarm.worker.directorate_id,
                 alarm.worker.organisation_id)


ALARM_PATHS = dict(organisation="alarm__worker__organisation_id",
                   directorate="alarm__worker__team__directorate_id",
                   team="alarm__worker__team_id", person="alarm__worker_id",
                   worker="alarm__worker__", session="alarm__session_id")

declare_record(Recording, kind=RECORDING, reach=lambda r: _reach_of_alarm(r.alarm),
               paths=Paths(**ALARM_PATHS))
declare_record(Review, kind=REVIEW, reach=lambda r: _reach_of_alarm(r.alarm),
               paths=Paths(**ALARM_PATHS))
declare_record(Hold, kind=RETENTION, reach=lambda h: _reach_of_alarm(h.recording.alarm),
               paths=Paths(**{key: f"recording__{path}" for key, path in ALARM_PATHS.items()}))

# REC-04: an independent senior clinician agrees a clinical exemption, case by case.
EXEMPTION = declare_kind("clinical_exemption", actions=(CHANGE,))

grant({Role.SECURITY_MANAGER}, RECORDING, VIEW, CHANGE)
grant({Role.INDEPENDENT_CLINICIAN}, EXEMPTION, CHANGE)
grant({Role.INDEPENDENT_CLINICIAN}, REVIEW, VIEW)
grant({Role.SECURITY_MANAGER}, REVIEW, VIEW, CHANGE)
grant({Role.SECURITY_MANAGER}, RETENTION, VIEW)

# ALM-01: how long after it was logged the operators on duty may hear an amber alert's
# voice memo when it belongs to no session (with one, while the session runs).
AMBER_HEARD_FOR = timedelta(hours=12)


def still_handled(alarm: Alarm) -> bool:
    """REC-03: is the alarm still in the alarm centre's hands? A red alert until it is
    closed; an amber alert while the session it was logged in runs (or, outside a
    session, for ``AMBER_HEARD_FOR``)."""
    if alarm.kind == Alarm.Kind.RED:
        return alarm.state != Alarm.State.CLOSED
    if alarm.session_id is not None:
        return alarm.session.is_open
    return clock.now() < alarm.raised_at + AMBER_HEARD_FOR


def _on_duty_and_handling(user, person, worker_id, obj) -> bool:
    """An alarm-centre operator on duty, for an alarm still in the alarm centre's hands."""
    alarm = obj.alarm
    return (still_handled(alarm)
            and OperatorDuty.objects.filter(person=person, ended_at__isnull=True).exists()
            and role_grants_in_scope(user, (ALARM, ACT), reach_of(alarm)))


ON_DUTY_HANDLER = "on_duty_handler"
declare_relation(ON_DUTY_HANDLER, holds=_on_duty_and_handling, per_worker=False)
grant_relation(ON_DUTY_HANDLER, RECORDING, VIEW)
