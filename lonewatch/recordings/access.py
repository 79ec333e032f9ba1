"""Fetch a recording for a user, or refuse: the one way the API and the pages open one
(see ``core.permissions.fetch_or_refuse``)."""

from django.core.exceptions import PermissionDenied
from django.http import Http404

from lonewatch.alarms.access import access_alarm
from lonewatch.core.permissions import CHANGE, VIEW, can
from lonewatch.recordings import actions
from lonewatch.recordings.models import Hold, Recording
from lonewatch.recordings.permissions import RECORDING, RETENTION

REFUSED = {
    VIEW: "Only the security manager can play this recording now. Operators on duty hear "
          "an alarm's recording only until the alarm is closed; the police ask through "
          "an access request.",
    CHANGE: "Only the security manager places or releases a legal hold.",
}


class Destroyed(Exception):
    """The recording was destroyed under its retention rule (HTTP 410)."""

    def __init__(self, recording: Recording):
        super().__init__(f"This recording was destroyed on "
                         f"{recording.destroyed_at:%d %B %Y} under the retention rule "
                         f"({recording.get_rule_display().lower()}). The destruction log "
                         "says what went.")
        self.recording = recording


def access_recording(user, alarm_id, *, action: str = VIEW) -> Recording:
    """The recording of an alarm the user can see, if they may take ``action`` on it:
    404 if they cannot see the alarm, 403 if they may not, ``Destroyed`` (410) if it is
    gone. An alarm without audio yet has an empty recording."""
    alarm = access_alarm(user, alarm_id)
    recording = Recording.objects.filter(alarm=alarm).first() or Recording(
        alarm=alarm, organisation_id=alarm.organisation_id, made_by_id=alarm.worker_id)
    recording.alarm = alarm
    if not can(user, action, RECORDING, recording):
        raise PermissionDenied(REFUSED[action])
    if recording.destroyed:
        raise Destroyed(recording)
    return recording


def access_kept(user, alarm_id) -> Recording:
    """The recording of an alarm, for a change to what is kept (a hold, a request): 404 or
    403 as ``access_recording``, ``Destroyed`` if it is gone; its row is made if the
    alarm has none yet."""
    recording = access_recording(user, alarm_id, action=CHANGE)
    return recording if recording.pk else actions.recording_of(recording.alarm)


def access_hold(user, hold_id) -> Hold:
    hold = Hold.objects.select_related("recording__alarm__worker__team").filter(
        pk=hold_id).first()
    if hold is None or not can(user, VIEW, RETENTION, hold):
        raise Http404("No such hold, or not one you can see.")
    if not can(user, CHANGE, RECORDING, hold.recording):
        raise PermissionDenied(REFUSED[CHANGE])
    return hold

