"""Fetch a session for a user, or refuse (see ``core.permissions.fetch_or_refuse``)."""

from lonewatch.core.permissions import VIEW, fetch_or_refuse
from lonewatch.visits.models import Session
from lonewatch.visits.permissions import SESSION


def access_session(user, session_id, *, action: str = VIEW) -> Session:
    return fetch_or_refuse(user, Session.objects.select_related("worker__team"), session_id,
                           SESSION, action, missing="No such session, or not one you can see.")
