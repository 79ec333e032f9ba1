"""Fetch a session for a user, or refuse (see ``core.permissions.fetch_or_refuse``); and
its timeline as that user may read it."""

from django.db.models import Q

from lonewatch.core.permissions import VIEW, fetch_or_refuse
from lonewatch.visits.models import Session, SessionEvent
from lonewatch.visits.permissions import SESSION


def access_session(user, session_id, *, action: str = VIEW) -> Session:
    return fetch_or_refuse(user, Session.objects.select_related("worker__team"), session_id,
                           SESSION, action, missing="No such session, or not one you can see.")


def timeline(session: Session, user):
    """The session's timeline as ``user`` may read it, oldest first.

    MOV-04: messages to other people do not belong on the worker's own timeline (after a
    duress PIN they would say what the phone must not show); the worker reads only the
    lines about messages to them. Everyone else who may see the session reads it all."""
    events = session.events.all()
    person = getattr(user, "person", None)
    if person is not None and person.pk == session.worker_id:
        events = events.filter(~Q(kind__in=SessionEvent.MESSAGE_KINDS)
                               | Q(data__recipient=person.pk))
    return events.order_by("at", "id")
