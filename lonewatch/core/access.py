"""Fetch a record for a user or refuse: the only way views and the API load them.

"Not there" and "not yours" give the same 404, so nobody learns which people
exist outside their reach. Holding a record but lacking one right on it is 403.
"""

from django.core.exceptions import PermissionDenied
from django.http import Http404

from lonewatch.core import permissions
from lonewatch.core.permissions import PERSON, TEAM, VIEW
from lonewatch.org.models import Person, Team


def access_person(user, person_id, *, resource: str = PERSON, action: str = VIEW) -> Person:
    person = (
        Person.objects.select_related("user", "team__directorate", "line_manager", "buddy")
        .filter(pk=person_id).first()
    )
    if person is None or not permissions.can(user, VIEW, PERSON, person):
        raise Http404("No such person, or not one you can see.")
    if (resource, action) != (PERSON, VIEW) and not permissions.can(user, action, resource,
                                                                      person):
        raise PermissionDenied("You do not have permission to do that.")
    return person


def access_team(user, team_id) -> Team:
    team = Team.objects.select_related("directorate").filter(pk=team_id).first()
    if team is None or not permissions.can(user, VIEW, TEAM, team):
        raise Http404("No such team, or not one you can see.")
    return team


def access_session(user, session_id, *, action: str = VIEW):
    from lonewatch.core.permissions import SESSION
    from lonewatch.visits.models import Session

    session = (
        Session.objects.select_related("worker__team").filter(pk=session_id).first()
    )
    if session is None or not permissions.can(user, VIEW, SESSION, session):
        raise Http404("No such session, or not one you can see.")
    if action != VIEW and not permissions.can(user, action, SESSION, session):
        raise PermissionDenied("You do not have permission to do that.")
    return session


def access_escalation(user, escalation_id, *, action: str = VIEW):
    from lonewatch.core.permissions import ESCALATION
    from lonewatch.escalation.models import Escalation

    escalation = (
        Escalation.objects.select_related("session__worker__team").filter(
            pk=escalation_id).first()
    )
    if escalation is None or not permissions.can(user, VIEW, ESCALATION, escalation):
        raise Http404("No such escalation, or not one you can see.")
    if action != VIEW and not permissions.can(user, action, ESCALATION, escalation):
        raise PermissionDenied("You cannot act on this escalation.")
    return escalation


def access_alarm(user, alarm_id, *, action: str = VIEW):
    from lonewatch.alarms.models import Alarm
    from lonewatch.core.permissions import ALARM

    alarm = Alarm.objects.select_related("worker__team").filter(pk=alarm_id).first()
    if alarm is None or not permissions.can(user, VIEW, ALARM, alarm):
        raise Http404("No such alarm, or not one you can see.")
    if action != VIEW and not permissions.can(user, action, ALARM, alarm):
        raise PermissionDenied("Only the worker's own phone adds to their alarm."
                               if action == permissions.CHANGE else
                               "You do not have permission to do that.")
    return alarm


def access_me(user) -> Person:
    """The caller's own staff record, or 403 for a login that belongs to nobody."""
    person = getattr(user, "person", None) if user is not None else None
    if person is None:
        raise PermissionDenied("Your login is not linked to a member of staff. "
                               "Ask your administrator.")
    return person
