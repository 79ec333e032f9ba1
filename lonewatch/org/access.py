"""Fetch a person or a team for a user, or refuse: the only way views and the API load
them (see ``core.permissions.fetch_or_refuse``)."""

from django.core.exceptions import PermissionDenied

from lonewatch.core.permissions import VIEW, can, fetch_or_refuse
from lonewatch.org.models import Person, Team
from lonewatch.org.permissions import PERSON, TEAM


def access_person(user, person_id, *, kind: str = PERSON, action: str = VIEW) -> Person:
    """The person if ``user`` may see them; 403 if ``action`` on ``kind`` (their contact
    details, next of kin, …) is not theirs to take."""
    person = fetch_or_refuse(
        user, Person.objects.select_related("user", "team__directorate", "line_manager",
                                            "buddy"),
        person_id, PERSON, missing="No such person, or not one you can see.")
    if (kind, action) != (PERSON, VIEW) and not can(user, action, kind, person):
        raise PermissionDenied("You do not have permission to do that.")
    return person


def access_team(user, team_id) -> Team:
    return fetch_or_refuse(user, Team.objects.select_related("directorate"), team_id, TEAM,
                           missing="No such team, or not one you can see.")


def access_me(user) -> Person:
    """The caller's own staff record, or 403 for a login that belongs to nobody."""
    person = getattr(user, "person", None) if user is not None else None
    if person is None:
        raise PermissionDenied("Your login is not linked to a member of staff. "
                               "Ask your administrator.")
    return person
