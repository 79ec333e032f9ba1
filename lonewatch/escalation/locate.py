"""ESC-04: the one-page "locate this worker" summary for the police (HTML and PDF).

When police involvement is needed, whoever is handling the session prints this page
or sends its PDF: where the worker was last known to be, where they meant to go,
how they travel, who to call and what has happened so far. It is written for an
officer reading it on paper, so it says things in plain English and in local time.
"""

import re

from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from lonewatch import clock
from lonewatch.core import pdf
from lonewatch.core import permissions as perms
from lonewatch.escalation.models import Escalation
from lonewatch.org import actions as org_actions
from lonewatch.org.permissions import NEXT_OF_KIN
from lonewatch.visits.access import access_session

# The newest events shown; older ones are counted, not listed, so the summary stays
# on one page.
TIMELINE_LIMIT = 25
# Should an unusually long summary still spill onto a second A4 page, the PDF is
# rendered again with fewer events, in this order, until it fits.
PDF_TIMELINE_LIMITS = (TIMELINE_LIMIT, 15, 8, 3, 0)


@never_cache
@require_safe
def locate_summary(request, session_id):
    session = access_session(request.user, session_id)
    context = _summary(request, session)
    if request.GET.get("format") == "pdf":
        return _pdf(session, context)
    return render(request, "visits/locate.html", context | _timeline(context, TIMELINE_LIMIT))


def _summary(request, session) -> dict:
    """Everything on the summary except the timeline's cut-off."""
    worker = session.worker
    location = None
    if session.last_lat is not None and session.last_lon is not None:
        lat, lon = f"{session.last_lat:.5f}", f"{session.last_lon:.5f}"
        location = {
            "lat": lat,
            "lon": lon,
            "accuracy_m": session.last_accuracy_m,
            "at": session.last_location_at,
            "map": f"openstreetmap.org/?mlat={lat}&mlon={lon}#map=17/{lat}/{lon}",
        }
    escalation = (
        session.escalations.exclude(state=Escalation.State.RESOLVED)
        .select_related("acknowledged_by__person").first()
    )
    # Next of kin are sensitive: shown only to those allowed, and every read is audited.
    show_kin = perms.can(request.user, perms.VIEW, NEXT_OF_KIN, worker)
    kin = org_actions.read_next_of_kin(worker, actor=request.user) if show_kin else None
    # Newest first from the database, then back into time order for reading.
    events = list(session.events.order_by("-at", "-id")[:TIMELINE_LIMIT])
    return {
        "session": session,
        "worker": worker,
        "vehicle": session.vehicle or worker.vehicle_description,
        "location": location,
        "escalation": escalation,
        "acknowledged_by": _name(escalation.acknowledged_by) if escalation else "",
        "show_kin": show_kin,
        "kin": kin,
        "all_events": events,
        "event_count": session.events.count(),
        "now": clock.now(),
        "time_zone": timezone.get_current_timezone_name(),
        "prepared_by": _name(request.user),
    }


def _timeline(context: dict, limit: int) -> dict:
    shown = context["all_events"][:limit][::-1]
    return {"events": shown, "events_left_out": context["event_count"] - len(shown)}


def _name(user) -> str:
    if user is None:
        return ""
    person = getattr(user, "person", None)
    return person.full_name if person is not None else user.get_username()


def _pdf(session, context: dict) -> HttpResponse:
    try:
        document = pdf.render_fitting(
            "visits/locate_pdf.html",
            (context | _timeline(context, limit) for limit in PDF_TIMELINE_LIMITS))
    except pdf.PdfUnavailable:
        return HttpResponse("PDFs cannot be made on this server. Print the page from your "
                            "browser instead.", status=503, content_type="text/plain")
    response = HttpResponse(document, content_type="application/pdf")
    username = re.sub(r"[^A-Za-z0-9._@+-]", "-", session.worker.username)
    response["Content-Disposition"] = f'inline; filename="locate-{username}-{session.pk}.pdf"'
    return response
