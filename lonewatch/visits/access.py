"""Fetch a session for a user, or refuse (see ``core.permissions.fetch_or_refuse``); and
its timeline as that user may read it."""

from django.db.models import Q

from lonewatch.core import places
from lonewatch.core.permissions import VIEW, fetch_or_refuse
from lonewatch.visits.models import PlannedVisit, Session, SessionEvent
from lonewatch.visits.permissions import PLANNED_VISIT, SESSION


def access_session(user, session_id, *, action: str = VIEW) -> Session:
    return fetch_or_refuse(user, Session.objects.select_related("worker__team"), session_id,
                           SESSION, action, missing="No such session, or not one you can see.")


def access_planned_visit(user, visit_id, *, action: str = VIEW) -> PlannedVisit:
    return fetch_or_refuse(user, PlannedVisit.objects.select_related("worker__team", "buddy"),
                           visit_id, PLANNED_VISIT, action,
                           missing="No such planned visit, or not one you can see.")


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


def place_notes(organisation_id: int, postcode: str, address: str, *, limit: int = 10):
    """PRE-05: what the last visits to this place noted about safety: warning signs,
    withdrawals and check-in notes, newest first."""
    if not postcode:
        return []
    here = places.place(address)
    earlier = [s.pk for s in Session.objects.filter(
        worker__organisation_id=organisation_id, postcode=postcode)
        .only("pk", "address").order_by("-started_at")[:50]
        if places.place(s.address) == here]
    noted = Q(kind__in=[SessionEvent.Kind.FLAG, SessionEvent.Kind.WITHDRAWING]) | Q(
        kind=SessionEvent.Kind.CHECKED_IN, summary__contains=": ")
    return list(SessionEvent.objects.filter(noted, session_id__in=earlier)
                .select_related("session__worker").order_by("-at")[:limit])
