"""Who may read a risk marker, and when (PRE-01). Only people with a need:

- the security manager, who keeps the register;
- a worker with a planned visit, or a running session, to that person or place;
- the buddy and the managers of a visit while it runs, and the manager who decides
  whether a planned high-risk visit may go ahead alone;
- the alarm centre while an alarm at that place is open (ALM-02).

Every read through here is audited, one event per marker. Anyone else learns from the
pre-visit check only that a visit is high risk, and the categories of why."""

from django.db.models import Q
from django.http import Http404

from lonewatch.alarms.models import Alarm
from lonewatch.alarms.permissions import ALARM
from lonewatch.core import permissions as perms
from lonewatch.core import places
from lonewatch.markers import actions
from lonewatch.markers.models import Marker
from lonewatch.markers.permissions import MARKER
from lonewatch.org.access import access_me
from lonewatch.visits.models import PlannedVisit, Session


def keeps_register(user) -> bool:
    return perms.can_anywhere(user, perms.VIEW, MARKER)


def _of(thing) -> list[Marker]:
    """The live markers for a visit's (or session's) person and place."""
    return actions.matching_markers(
        thing.worker.organisation_id, nhs_number=thing.nhs_number,
        local_id=thing.service_user_ref, postcode=thing.postcode, address=thing.address)


def needed_by(user, markers: list[Marker]) -> set[int]:
    """Which of ``markers`` ``user`` needs for their own visits: a planned visit not yet
    over, or their running session, to the marker's person or place."""
    me = getattr(user, "person", None)
    if me is None or not markers:
        return set()
    visits = list(PlannedVisit.objects.filter(worker=me, state=PlannedVisit.State.PLANNED)
                  .only("nhs_number", "service_user_ref", "postcode", "address"))
    visits += Session.objects.filter(worker=me).exclude(state=Session.State.ENDED).only(
        "nhs_number", "service_user_ref", "postcode", "address")
    return {m.pk for m in markers for v in visits
            if actions.for_person(m, v.nhs_number, v.service_user_ref.strip())
            or v.postcode and actions.at_place(m, v.postcode, places.place(v.address))}


def precheck_for(user, *, deciding: PlannedVisit | None = None, **query) -> actions.Precheck:
    """PRE-04 for whoever plans visits: the risk and the reasons; the markers themselves
    only for the security manager, for a visit of the reader's own, and for the manager
    ``deciding`` whether a planned high-risk visit may go ahead alone."""
    me = access_me(user)
    found = actions.precheck(me.organisation_id, actor=user, **query)
    decides = deciding is not None and deciding.is_open and deciding.risk == "high" and \
        perms.can(user, perms.ACT, "planned_visit", deciding)
    if not (keeps_register(user) or decides):
        need = needed_by(user, found.markers)
        found.withheld = {m.pk for m in found.markers if m.pk not in need}
    return found


def for_visit(user, visit: PlannedVisit) -> list[Marker]:
    """A planned visit's markers, for its worker (and the security manager)."""
    mine = getattr(user, "person", None) is not None and user.person.pk == visit.worker_id
    if not (mine or keeps_register(user)):
        raise Http404("No such planned visit, or not one you can see.")
    found = _of(visit) if visit.state == PlannedVisit.State.PLANNED or keeps_register(user) \
        else []
    actions.audit_read(found, actor=user, why="read for a planned visit")
    return found


def for_session(user, session: Session) -> list[Marker]:
    """A running visit's markers, for its worker, its buddy and the managers who may see
    the session; when it has ended, for the security manager only."""
    if not perms.can(user, perms.VIEW, "session", session):
        raise Http404("No such session, or not one you can see.")
    if session.state == Session.State.ENDED and not keeps_register(user):
        return []
    found = _of(session)
    actions.audit_read(found, actor=user, why="read for a running visit")
    return found


def for_alarm(user, alarm: Alarm) -> list[Marker]:
    """ALM-02: the markers for an open alarm's place and person, for the alarm centre."""
    if not perms.can(user, perms.ACT, ALARM, alarm) or not alarm.is_open or \
            alarm.session_id is None:
        return []
    found = _of(alarm.session)
    actions.audit_read(found, actor=user, why="read for an open alarm")
    return found


def may_review(user, marker: Marker) -> bool:
    """PRE-01: a marker's owner reviews it, and so may the security manager."""
    return marker.raised_by_id == user.pk or perms.can(user, perms.CHANGE, MARKER, marker)


def access_marker(user, marker_id: int) -> Marker:
    """One marker: the security manager's, its owner's, or one the reader needs for a
    visit."""
    me = access_me(user)
    marker = Marker.objects.filter(Q(pk=marker_id), organisation_id=me.organisation_id).first()
    if marker is None or not (keeps_register(user) or marker.raised_by_id == user.pk
                              or needed_by(user, [marker])):
        raise Http404("No such marker, or not one you can see.")
    actions.audit_read([marker], actor=user, why="read")
    return marker
