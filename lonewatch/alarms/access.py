"""Fetch an alarm for a user, or refuse: the one way the pages, the phone's endpoints
and the API load an alarm (see ``core.permissions.fetch_or_refuse``)."""

from django.core.exceptions import PermissionDenied

from lonewatch.alarms.models import Alarm
from lonewatch.alarms.permissions import ALARM
from lonewatch.core import permissions as perms
from lonewatch.core.permissions import ACT, CHANGE, VIEW, fetch_or_refuse
from lonewatch.org.access import access_me
from lonewatch.org.models import Person

REFUSED = {
    ACT: "Only the alarm centre can handle an alarm.",
    CHANGE: "Only the worker's own phone adds to their alarm.",
}


def access_alarm(user, alarm_id, *, action: str = VIEW) -> Alarm:
    return fetch_or_refuse(user, Alarm.objects.select_related("worker__team", "session"),
                           alarm_id, ALARM, action,
                           missing="No such alarm, or not one you can see.",
                           refused=REFUSED.get(action, "You do not have permission to do that."))


def access_console(request) -> "Person":
    """The console and its actions are for whoever handles alarms."""
    if not perms.can_anywhere(request.user, perms.ACT, ALARM):
        raise PermissionDenied("The console is for the alarm centre and the security manager.")
    return access_me(request.user)
