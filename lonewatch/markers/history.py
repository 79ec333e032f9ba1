"""PRE-04: what happened at a place before: a worker withdrew from a visit there, or a
red alert was raised there that was not a false alarm. Either makes a visit there high
risk for a year.

MOV-04: an alarm a worker's own account cannot see as it was (raised with the duress
PIN, or cancelled with either PIN) is not told back to that worker: their account reads
the same as if it had never been raised."""

from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from lonewatch import clock
from lonewatch.alarms.models import Alarm
from lonewatch.core import places
from lonewatch.visits.models import Session

HISTORY_DAYS = 365


def at_place(organisation_id: int, postcode: str, address: str, *, actor) -> list[str]:
    """The reasons, one per earlier incident at this postcode and house (and flat)."""
    here = places.place(address)
    since = clock.now() - timedelta(days=HISTORY_DAYS)
    sessions = {s.pk: s for s in Session.objects.filter(
        worker__organisation_id=organisation_id, postcode=postcode, started_at__gte=since)
        .only("pk", "address", "withdrew_at")
        if places.same_place(*_house(s.address), False, here)}
    if not sessions:
        return []
    reasons = [f"A worker withdrew from a visit here on {_day(s.withdrew_at)}"
               for s in sessions.values() if s.withdrew_at is not None]
    me = getattr(actor, "person", None)
    alarms = (Alarm.objects.filter(session_id__in=sessions, kind=Alarm.Kind.RED, drill=False)
              .exclude(category=Alarm.Category.FALSE))
    if me is not None:
        alarms = alarms.exclude(Q(worker_id=me.pk) & (
            Q(hidden_from_worker=True) | Q(worker_view__isnull=False)
            | Q(source=Alarm.Source.DURESS)))
    reasons += [f"A red alert was raised here on {_day(a.raised_at)}"
                for a in alarms.order_by("raised_at")]
    return reasons


def _house(address: str) -> tuple[str, str]:
    found = places.place(address)
    return found.house, found.flat


def _day(moment) -> str:
    return f"{timezone.localtime(moment):%d %B %Y}"
