"""ALM-07: alarms forwarded to external alarm receiving centres by signed webhook.

Every red alarm, whatever raised it (the worker's phone, the discreet trigger, a
device, the duress PIN at check-out, an escalation step), and every change to it
(re-alert, duress PIN at cancel, acknowledged, assessing, escalated, closed, cancelled,
possible duress, re-categorised, new location) goes to each active webhook endpoint of
the organisation, as a delivery queued in the same transaction as the change. Amber
alerts go too, once, as they are logged, so that a centre handling a later red alert
knows what the worker said before going in. Drills never leave Lonewatch (TRN-02).

Every change to an alarm writes a line on its timeline through ``actions._event``,
and that is where ``forward`` is called: no way of raising or handling an alarm can
leave the centres out. Timeline lines not named in EVENTS (audio) stay in Lonewatch.
The deliveries are about the alarm, never the worker's session: one that fails is a
line on the alarm's timeline, for the alarm centre; nothing about them appears on the
worker's own timeline.
"""

import json

from django.core.serializers.json import DjangoJSONEncoder

from lonewatch import clock
from lonewatch.alarms.hub import alarm_json
from lonewatch.alarms.models import Alarm, AlarmEvent
from lonewatch.notify import actions as notify
from lonewatch.notify import messages

# The event an external centre is told of, by the kind of the timeline line; a caller
# may name another (a worker's own cancel is "cancelled", not "closed").
EVENTS = {
    "raised": "raised",
    "realert": "re_alert",
    "duress": "duress",
    "acknowledged": "acknowledged",
    "assessing": "assessing",
    "escalated": "escalated",
    "closed": "closed",
    "duress_flagged": "duress_suspected",
    "recategorised": "recategorised",
    "location": "location",
}
WORDS = {
    "raised": "raised",
    "re_alert": "still not acknowledged",
    "duress": "the worker entered the duress PIN to cancel it: it is NOT cancelled",
    "acknowledged": "acknowledged",
    "assessing": "being assessed",
    "escalated": "escalated",
    "closed": "closed",
    "cancelled": "cancelled by the worker with their PIN",
    "duress_suspected": "possible duress",
    "recategorised": "re-categorised",
    "location": "new location",
    "amber_logged": "logged (no action needed)",
}


def forward(alarm: Alarm, event: AlarmEvent, *, as_: str | None = None) -> None:
    """Queue ``event`` of ``alarm`` to every active webhook endpoint. Runs inside the
    caller's transaction: the messages exist exactly when the change commits."""
    what = _what(alarm, event.kind, as_)
    if what is None:
        return
    subject, text = _words(alarm, event, what)
    notify.queue_webhooks(subject=subject, body=text, link=messages.link("console"),
                          purpose=f"alarm_{what}", organisation_id=alarm.organisation_id,
                          about=("alarm", alarm.pk), payload=payload(alarm, event, what))


def _what(alarm: Alarm, kind: str, as_: str | None) -> str | None:
    if alarm.drill:
        return None  # TRN-02: a drill reaches only its participants
    if alarm.kind == Alarm.Kind.AMBER:
        return "amber_logged" if kind == "raised" else None
    return as_ or EVENTS.get(kind)


def _words(alarm: Alarm, event: AlarmEvent, what: str) -> tuple[str, str]:
    worker = alarm.worker.full_name
    label = ("DURESS" if alarm.source == Alarm.Source.DURESS
             else "RED ALERT" if alarm.kind == Alarm.Kind.RED else "Amber alert")
    where = (f"Last located {alarm.lat:.5f}, {alarm.lon:.5f} at {clock.hhmm(alarm.location_at)}."
             if alarm.lat is not None and alarm.location_at is not None
             else "No location yet.")
    return (f"{label} from {worker}: {WORDS[what]}",
            f"{label} from {worker}, raised at {clock.hhmm(alarm.raised_at)}: {WORDS[what]}. "
            f"{event.summary}. {where}")


def _who(user) -> str | None:
    if user is None:
        return None
    person = getattr(user, "person", None)
    return person.full_name if person else user.get_username()


def payload(alarm: Alarm, event: AlarmEvent, what: str) -> dict:
    """What a receiving centre reads: the change, and the alarm as it stands after it.
    The alarm's fields are those of the alarm event stream, and more."""
    facts = alarm_json(alarm)
    worker = alarm.worker
    facts["worker"] |= {"team": worker.team.name if worker.team_id else None}
    session = alarm.session
    facts |= {
        # The centre must know a duress alarm for what it is (MOV-04); the worker's
        # phone never sees these messages.
        "duress": alarm.source == Alarm.Source.DURESS,
        "acknowledged_by": _who(alarm.acknowledged_by),
        "escalated_to": sorted({part.strip() for part in alarm.escalated_to.split(",")
                                if part.strip()}),
        "emergency_reference": alarm.emergency_reference,
        "closed_at": alarm.closed_at,
        "worker_agreed": alarm.worker_agreed,
        "session": None if session is None else {
            "id": session.pk, "kind": session.kind, "address": session.address,
            "postcode": session.postcode, "planned_start": session.planned_start,
            "planned_end": session.planned_end, "travel_mode": session.travel_mode,
            "vehicle": session.vehicle, "last_contact_at": session.last_contact_at},
    }
    body = {
        "event": {"type": what, "id": event.pk, "at": event.at, "summary": event.summary,
                  "by": _who(event.actor), "detail": event.data},
        "alarm": facts,
    }
    # Plain JSON values, as they will be sent.
    return json.loads(json.dumps(body, cls=DjangoJSONEncoder))
