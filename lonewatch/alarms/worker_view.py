"""What a worker's own account reads of their alarms (MOV-04).

A duress PIN protects a worker only if whoever holds the phone cannot tell it was
used. So the worker's own views of an alarm (the API, the pages, the phone's answers)
are built here, and never show what the alarm centre alone should know:

- an alarm raised silently by the duress PIN at check-out is not theirs to see at all
  (``Alarm.hidden_from_worker``; the permission engine hides it from them);
- once the phone has been told an alarm is over, by a cancel with either PIN, the
  worker sees it as a cancel with the real PIN leaves it (``Alarm.worker_view``), built
  by one function for both PINs, whatever the alarm centre does next;
- lines about duress, re-alerts and messages to other people are never theirs, and
  ``duress_suspected`` is never shown to them true.
"""

from lonewatch.alarms.models import Alarm, AlarmEvent

# Timeline lines the worker never sees on their own alarm: they would differ between
# the real and the duress PIN (re-alerts come sooner after a duress PIN), or they are
# about messages to other people.
NOT_FOR_THE_WORKER = frozenset({"duress", "duress_flagged", "realert", "delivery_failed",
                                "delivery"})

CANCELLED_NOTE = "Cancelled by the worker with their PIN"


def closing_summary(category: str, note: str) -> str:
    """The timeline line of a closed alarm (one wording for the alarm and the worker)."""
    label = Alarm.Category(category).label
    return f"Closed as {label.lower()}" + (f": {note[:150]}" if note else "")


def _line(at, kind: str, summary: str) -> dict:
    return {"at": at.isoformat(timespec="microseconds"), "kind": kind, "summary": summary}


def _live(alarm: Alarm) -> dict:
    return {
        "id": alarm.pk, "kind": alarm.kind, "state": alarm.state, "source": alarm.source,
        "worker_id": alarm.worker_id, "session_id": alarm.session_id,
        "raised_at": alarm.raised_at.isoformat(timespec="microseconds"),
        "message": alarm.message, "lat": alarm.lat, "lon": alarm.lon,
        "accuracy_m": alarm.accuracy_m,
        "acknowledged_at": alarm.acknowledged_at.isoformat(timespec="microseconds")
        if alarm.acknowledged_at else None,
        "category": alarm.category, "duress_suspected": False,
        "emergency_reference": alarm.emergency_reference, "drill": alarm.drill,
        "timeline": [_line(e.at, e.kind, e.summary) for e in
                     AlarmEvent.objects.filter(alarm=alarm).exclude(
                         kind__in=NOT_FOR_THE_WORKER).order_by("at", "id")],
    }


def as_cancelled(alarm: Alarm, now) -> dict:
    """The alarm as a cancel with the real PIN leaves it, taken before either PIN's
    change is written, so the real and the duress PIN give the worker one view."""
    view = _live(alarm)
    view |= {"state": Alarm.State.CLOSED, "category": Alarm.Category.FALSE}
    view["timeline"].append(_line(now, "closed",
                                  closing_summary(Alarm.Category.FALSE, CANCELLED_NOTE)))
    return view


def of(alarm: Alarm) -> dict:
    """The alarm as its worker may read it."""
    return alarm.worker_view if alarm.worker_view is not None else _live(alarm)


def seen_by(user, alarm: Alarm):
    """``alarm`` for anyone else; the worker's own view for the worker."""
    person = getattr(user, "person", None)
    if person is not None and alarm.worker_id == person.pk:
        return of(alarm)
    alarm.timeline = list(alarm.events.all())
    return alarm
