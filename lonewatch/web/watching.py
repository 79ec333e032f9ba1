"""The pages of those who watch: the buddy's page and the managers' live board
(BUD-01, ESC-05)."""

import time
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Max, Q
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from lonewatch import clock
from lonewatch.alarms.models import Alarm
from lonewatch.core import permissions as perms
from lonewatch.core import shutdown, sse
from lonewatch.core.sse import event_stream
from lonewatch.escalation.models import Escalation
from lonewatch.notify.models import Delivery
from lonewatch.notify.views import unproved
from lonewatch.org.access import access_me
from lonewatch.org.models import Person
from lonewatch.org.roles import Role
from lonewatch.visits.models import PlannedVisit, Session
from lonewatch.visits.permissions import SESSION

BOARD_STREAM_SECONDS = 300


BUDDY_ALERT_HOURS = 12  # a shift: older alerts are on the session's page


def buddy(request):
    me = access_me(request.user)
    now = clock.now()
    watching = list(Session.objects.exclude(state=Session.State.ENDED)
                    .filter(Q(buddy=me) | Q(cover_buddy=me)).select_related("worker")
                    .order_by("due_at"))
    # ALM-01: an amber alert is the buddy's to see, with the red ones, while they watch.
    alerts: dict[int, list] = {}
    for alarm in perms.filter_visible(request.user, Alarm.objects.filter(
            worker__in=[s.worker_id for s in watching],
            raised_at__gte=now - timedelta(hours=BUDDY_ALERT_HOURS))).order_by("-raised_at"):
        alerts.setdefault(alarm.worker_id, []).append(alarm)
    for session in watching:
        session.alerts = alerts.get(session.worker_id, [])
    return render(request, "visits/buddy.html", {
        "sessions": watching, "now": now, "plan_caption": "Visits planned by people you are "
                                                          "buddy for",
        "planned": upcoming_plans(request.user, now, buddy=me)})


def upcoming_plans(user, now, **only):
    """MOV-01: the planned visits ``user`` may see from today for a week, soonest first."""
    today = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    return (perms.filter_visible(user, PlannedVisit.objects.filter(
        planned_start__gte=today, planned_start__lt=today + timedelta(days=8), **only))
        .exclude(worker=getattr(user, "person", None))
        .select_related("worker").order_by("planned_start")[:100])


def _board(request) -> dict:
    user = request.user
    now = clock.now()
    sessions = list(
        perms.filter_visible(user, Session.objects.exclude(state=Session.State.ENDED))
        .select_related("worker__team", "buddy", "cover_buddy").order_by("due_at")
    )
    soon = now + timedelta(minutes=5)
    open_escalations = list(
        perms.filter_visible(user, Escalation.objects.exclude(state=Escalation.State.RESOLVED))
        .select_related("session__worker", "acknowledged_by__person").order_by("missed_at")
    )
    people = perms.filter_visible(user, Person.objects.filter(user__is_active=True))
    since = now - timedelta(days=90)
    return {
        "now": now,
        "escalating": [s for s in sessions if s.state == Session.State.OVERDUE],
        "due_soon": [s for s in sessions if s.state == Session.State.ACTIVE and s.due_at <= soon],
        "active": [s for s in sessions if s.state == Session.State.ACTIVE and s.due_at > soon],
        "escalations": open_escalations,
        # ESC-05: unnecessary escalations show how well the procedure is followed.
        "forgotten": (
            perms.filter_visible(user, Escalation.objects.filter(
                outcome=Escalation.Outcome.FORGOT, resolved_at__gte=since))
            .values("session__worker__team__name").annotate(count=Count("id"))
            .order_by("-count")
        ),
        # Buddies and escalation points whose alerts may not reach them.
        "unproved": [
            (p, gaps) for p in people.filter(roles__role__in=[
                Role.BUDDY, Role.LINE_MANAGER, Role.SENIOR_MANAGER]).distinct()
            .prefetch_related("channel_proofs", "push_subscriptions").order_by("full_name")
            if (gaps := unproved(p))
        ],
        "failing": (
            Delivery.objects.filter(recipient__in=people, status=Delivery.Status.FAILED,
                                    created_at__gte=now - timedelta(days=7))
            .values("recipient__full_name", "channel").annotate(count=Count("id"),
                                                                last=Max("created_at"))
            .order_by("recipient__full_name")
        ),
    }


def _check_board(request):
    if not perms.can_anywhere(request.user, perms.VIEW, SESSION):
        raise PermissionDenied("The board is for managers, the security manager and the "
                               "alarm centre.")


def board(request):
    _check_board(request)
    return render(request, "visits/board.html", _board(request) | {
        "planned": upcoming_plans(request.user, clock.now()),
        "plan_caption": "Planned visits in the coming week"})


def board_fragment(request):
    _check_board(request)
    return render(request, "visits/_board.html", _board(request))


def _board_version(user) -> tuple:
    visible = perms.filter_visible(user, Session.objects.all())
    return (
        visible.exclude(state=Session.State.ENDED).aggregate(
            n=Count("id"), due=Max("due_at"), contact=Max("last_contact_at"))["n"],
        visible.aggregate(latest=Max("events__id"))["latest"],
    )


def board_events(request):
    """Server-sent events: "changed" whenever the board would show something new."""
    _check_board(request)
    user = request.user  # resolved now: the stream outlives the request's middleware

    def stream():
        yield "retry: 3000\n\n"
        last, started = None, time.monotonic()
        while time.monotonic() - started < BOARD_STREAM_SECONDS and not shutdown.stopping():
            version = _board_version(user)
            if version != last and last is not None:
                yield f"event: changed\ndata: {reverse('board_fragment')}\n\n"
            else:
                # A comment each round: a closed connection shows up at once, so a
                # console that went away stops costing a thread and a query.
                yield ":\n\n"
            last = version
            shutdown.wait(settings.BOARD_POLL_SECONDS)
        if shutdown.stopping():
            # Q-REL: the server process is being stopped; the board reconnects to
            # another one at once and fetches itself again.
            yield sse.closing()

    return event_stream(stream())
