"""Raising and handling amber and red alerts (MOV-04, ALM-01 … ALM-06).

Every change is one transaction with its timeline line and audit row. A red alert
is committed before the worker's phone gets its answer; until an operator
acknowledges it, a stored deadline (``next_realert_at``) makes the worker re-alert
every operator on duty and the supervisor (ALM-04).
"""

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction

from lonewatch import clock
from lonewatch.alarms import forwarding, hooks, messages, timeline, worker_view
from lonewatch.alarms.models import Alarm, OperatorDuty
from lonewatch.alarms.permissions import ALARM_CATEGORY
from lonewatch.core import audit
from lonewatch.core.permissions import CHANGE, can
from lonewatch.notify import actions as notify
from lonewatch.notify.hooks import Outcome
from lonewatch.notify.models import Channel
from lonewatch.org import pins
from lonewatch.org.models import Person, PinFailure
from lonewatch.org.pins import Pin
from lonewatch.org.roles import Role, Scope
from lonewatch.visits.actions import location
from lonewatch.visits.models import Session
from lonewatch.worker.claim import claim

A = Alarm.State


class AlarmConflict(Exception):
    """Not allowed in the alarm's current state (HTTP 409)."""


class AlarmError(ValueError):
    """Bad input: the message is shown as it is (HTTP 400)."""


# ALM-03: which state each action may start from.
ALLOWED = {
    "acknowledge": {A.RAISED},
    "assess": {A.ACKNOWLEDGED},
    "escalate": {A.ACKNOWLEDGED, A.ASSESSING, A.ESCALATED},
    "close": {A.ACKNOWLEDGED, A.ASSESSING, A.ESCALATED},
}
ESCALATE_TO = {"emergency_services": "Emergency services (999)",
               "escalation_point": "The worker's escalation point"}


def _event(alarm, kind, summary, *, actor=None, at=None, data=None, here=None,
           forward_as: str | None = None):
    """A line on the alarm's timeline (ALM-03), and the same change forwarded to the
    external alarm centres (ALM-07): every change to an alarm comes through here, so
    none can leave them out. Runs inside the caller's transaction."""
    event = timeline.append(alarm, at=at or clock.now(), kind=kind, actor=actor,
                            summary=summary, data=data, here=here)
    forwarding.forward(alarm, event, as_=forward_as)
    return event


def on_duty_operators(organisation_id) -> list[Person]:
    return list(Person.objects.filter(
        organisation_id=organisation_id, duties__ended_at__isnull=True,
        duties__started_at__isnull=False, roles__role=Role.ALARM_OPERATOR,
        user__is_active=True).distinct())


def supervisors(organisation_id) -> list[Person]:
    """The security manager(s): told of re-alerts and of every recorded incident."""
    return list(Person.objects.filter(
        organisation_id=organisation_id, roles__role=Role.SECURITY_MANAGER,
        roles__scope=Scope.ORGANISATION, user__is_active=True).distinct())


def _open_session(worker) -> Session | None:
    return Session.objects.filter(worker=worker).exclude(state=Session.State.ENDED).first()


def do_raise(worker: Person, *, actor, kind: str, source: str = Alarm.Source.APP,
             message: str = "", lat=None, lon=None, accuracy_m=None,
             drill: bool = False) -> Alarm:
    """ALM-01 amber (logged, nothing loud) or ALM-02 red (to the alarm centre at once)."""
    if kind not in Alarm.Kind.values:
        raise AlarmError(f"kind must be one of {', '.join(Alarm.Kind.values)}")
    if source not in Alarm.Source.values:
        raise AlarmError(f"source must be one of {', '.join(Alarm.Source.values)}")
    here = location(worker, lat, lon, accuracy_m)
    now = clock.now()
    red = kind == Alarm.Kind.RED
    with transaction.atomic():
        alarm = Alarm.objects.create(
            organisation_id=worker.organisation_id, worker=worker,
            session=_open_session(worker), kind=kind, source=source, drill=drill,
            state=A.RAISED if red else A.LOGGED, message=message[:500], raised_at=now,
            lat=here.lat if here else None, lon=here.lon if here else None,
            accuracy_m=here.accuracy_m if here else None, location_at=now if here else None,
            cancel_until=now + timedelta(seconds=settings.ALARM_CANCEL_SECONDS)
            if red and source in (Alarm.Source.APP, Alarm.Source.DISCREET) else None,
            next_realert_at=now + timedelta(seconds=settings.ALARM_ACK_SECONDS) if red
            else None)
        hooks.evidence_changed(alarm)
        what = "Red alert" if red else "Amber alert"
        raised = _event(alarm, "raised", f"{what} raised ({alarm.get_source_display().lower()})"
               + (f": {message[:150]}" if message else ""), actor=actor, at=now, here=here)
        audit.record(f"alarm.{kind}", actor=actor, obj=alarm,
                     summary=f"{what} from {worker.full_name}" + (" (drill)" if drill else ""),
                     timeline=timeline.TIMELINE.anchor(raised))
        if red:
            operators = on_duty_operators(worker.organisation_id)
            subject, body, link = messages.alarm(alarm, now)
            # The external alarm centres were told with the timeline line (ALM-07).
            notify.queue(operators, [Channel.IN_APP, Channel.PUSH],
                         subject=subject, body=body, link=link, purpose="alarm_raised",
                         organisation_id=worker.organisation_id, about=("alarm", alarm.pk))
    return alarm


def _lock(alarm: Alarm) -> Alarm:
    return Alarm.objects.select_for_update().select_related("worker").get(pk=alarm.pk)


def _transition(alarm: Alarm, action: str) -> Alarm:
    alarm = _lock(alarm)
    if alarm.kind != Alarm.Kind.RED:
        raise AlarmConflict("Amber alerts are logged, not handled: there is nothing to "
                            f"{action}.")
    if alarm.state not in ALLOWED[action]:
        raise AlarmConflict(f"This alarm is {alarm.get_state_display().lower()}: it cannot "
                            f"be {action + ('d' if action.endswith('e') else 'ed')} now.")
    return alarm


def _name(user) -> str:
    person = getattr(user, "person", None)
    return person.full_name if person else user.get_username()


def do_acknowledge(alarm: Alarm, *, actor, note: str = "") -> Alarm:
    with transaction.atomic():
        alarm = _transition(alarm, "acknowledge")
        now = clock.now()
        alarm.state, alarm.acknowledged_by, alarm.acknowledged_at = A.ACKNOWLEDGED, actor, now
        alarm.next_realert_at = alarm.cancel_until = None
        alarm.save(update_fields=["state", "acknowledged_by", "acknowledged_at",
                                  "next_realert_at", "cancel_until"])
        seconds = round((now - alarm.raised_at).total_seconds(), 1)
        _event(alarm, "acknowledged", f"Acknowledged by {_name(actor)} after {seconds} s"
               + (f": {note[:150]}" if note else ""), actor=actor, at=now,
               data={"seconds_to_acknowledge": seconds})
        audit.record("alarm.acknowledge", actor=actor, obj=alarm,
                     summary=f"{_name(actor)} acknowledged the alarm of {alarm.worker}")
    return alarm


def do_assess(alarm: Alarm, *, actor, note: str = "") -> Alarm:
    with transaction.atomic():
        alarm = _transition(alarm, "assess")
        alarm.state = A.ASSESSING
        alarm.save(update_fields=["state"])
        _event(alarm, "assessing", f"{_name(actor)} is listening and locating"
               + (f": {note[:150]}" if note else ""), actor=actor)
        audit.record("alarm.assess", actor=actor, obj=alarm, summary="Alarm being assessed")
    return alarm


def do_escalate(alarm: Alarm, *, actor, to: str, reference: str = "", note: str = "") -> Alarm:
    if to not in ESCALATE_TO:
        raise AlarmError(f"to must be one of {', '.join(ESCALATE_TO)}")
    if to == "emergency_services" and not reference.strip():
        raise AlarmError("Give the emergency services' incident reference.")
    with transaction.atomic():
        alarm = _transition(alarm, "escalate")
        alarm.state = A.ESCALATED
        alarm.escalated_to = ", ".join(filter(None, {alarm.escalated_to, to}))[:100]
        if reference:
            alarm.emergency_reference = reference.strip()[:100]
        alarm.save(update_fields=["state", "escalated_to", "emergency_reference"])
        _event(alarm, "escalated", f"Escalated to {ESCALATE_TO[to].lower()}"
               + (f" (reference {reference.strip()[:60]})" if reference else "")
               + (f": {note[:120]}" if note else ""), actor=actor,
               data={"to": to, "reference": reference})
        audit.record("alarm.escalate", actor=actor, obj=alarm,
                     summary=f"Alarm escalated to {ESCALATE_TO[to].lower()}",
                     after={"to": to, "reference": reference})
    return alarm


def do_close(alarm: Alarm, *, actor, category: str, worker_agreed: bool | None = None,
             note: str = "") -> Alarm:
    """ALM-03, ALM-05: close as genuine, genuine-closed-safely or false alarm; a false
    alarm needs the worker's agreement recorded."""
    if category not in Alarm.Category.values:
        raise AlarmError(f"category must be one of {', '.join(Alarm.Category.values)}")
    if category == Alarm.Category.FALSE and worker_agreed is not True:
        raise AlarmError("A false alarm is closed only with the worker's agreement: record "
                         "worker_agreed as true, or flag suspected duress.")
    with transaction.atomic():
        alarm = _transition(alarm, "close")
        _close(alarm, actor=actor, category=category, worker_agreed=worker_agreed, note=note)
    return alarm


def _close(alarm, *, actor, category, worker_agreed, note, forward_as: str | None = None,
           at=None):
    now = at or clock.now()
    alarm.state, alarm.closed_by, alarm.closed_at = A.CLOSED, actor, now
    alarm.category, alarm.worker_agreed = category, worker_agreed
    alarm.next_realert_at = alarm.cancel_until = None
    alarm.save(update_fields=["state", "closed_by", "closed_at", "category", "worker_agreed",
                              "next_realert_at", "cancel_until"])
    label = Alarm.Category(category).label
    closed = _event(alarm, "closed", worker_view.closing_summary(category, note), actor=actor,
                    at=now, data={"category": category, "worker_agreed": worker_agreed},
                    forward_as=forward_as)
    # The audit event anchors the alarm's whole timeline as it was closed.
    audit.record("alarm.close", actor=actor, obj=alarm,
                 summary=f"Alarm of {alarm.worker} closed as {label.lower()}",
                 after={"category": category, "worker_agreed": worker_agreed, "note": note},
                 timeline=timeline.TIMELINE.anchor(closed))
    hooks.evidence_changed(alarm)
    if category != Alarm.Category.FALSE and not alarm.drill:
        # ALM-06: the security manager is told of every recorded incident.
        subject, body, link = messages.incident_recorded(alarm, label)
        notify.queue(supervisors(alarm.organisation_id), [Channel.IN_APP, Channel.EMAIL],
                     subject=subject, body=body, link=link, purpose="incident_recorded",
                     organisation_id=alarm.organisation_id, about=("alarm", alarm.pk))


def do_flag_duress(alarm: Alarm, *, actor, note: str = "") -> Alarm:
    """ALM-05: the operator believes the worker closed or cancelled under duress."""
    with transaction.atomic():
        alarm = _lock(alarm)
        if alarm.kind != Alarm.Kind.RED:
            raise AlarmConflict("Only a red alert can be flagged as possible duress.")
        alarm.duress_suspected = True
        alarm.save(update_fields=["duress_suspected"])
        _event(alarm, "duress_flagged", f"{_name(actor)} suspects duress"
               + (f": {note[:150]}" if note else ""), actor=actor)
        audit.record("alarm.flag_duress", actor=actor, obj=alarm,
                     summary=f"Possible duress flagged on the alarm of {alarm.worker}")
        hooks.evidence_changed(alarm)
        subject, body, link = messages.duress_suspected(alarm)
        notify.queue(supervisors(alarm.organisation_id),
                     [Channel.IN_APP, Channel.PUSH, Channel.SMS, Channel.EMAIL],
                     subject=subject, body=body, link=link, purpose="duress_suspected",
                     organisation_id=alarm.organisation_id, about=("alarm", alarm.pk))
    return alarm


def do_recategorise(alarm: Alarm, *, actor, category: str, note: str = "") -> Alarm:
    """ALM-05: the security manager re-categorises a closed alarm (before any recording
    is deleted)."""
    if not can(actor, CHANGE, ALARM_CATEGORY, alarm):
        raise PermissionDenied("Only the security manager can re-categorise an alarm.")
    if category not in Alarm.Category.values:
        raise AlarmError(f"category must be one of {', '.join(Alarm.Category.values)}")
    with transaction.atomic():
        alarm = _lock(alarm)
        if alarm.state != A.CLOSED:
            raise AlarmConflict("Only a closed alarm can be re-categorised.")
        before = alarm.category
        alarm.category = category
        alarm.save(update_fields=["category"])
        _event(alarm, "recategorised", f"Re-categorised from "
               f"{Alarm.Category(before).label.lower()} to "
               f"{Alarm.Category(category).label.lower()} by {_name(actor)}"
               + (f": {note[:120]}" if note else ""), actor=actor)
        audit.record("alarm.recategorise", actor=actor, obj=alarm,
                     summary="Alarm re-categorised", before={"category": before},
                     after={"category": category, "note": note})
        hooks.evidence_changed(alarm)
    return alarm


def do_cancel(alarm: Alarm, *, actor, pin: str) -> Alarm:
    """The worker cancels their red alert within the cancel window. The duress PIN
    answers exactly alike, and keeps the alarm alive, silently (MOV-04). Wrong PINs
    here and at check-out share one lockout; a refused cancel changes nothing (Q-SEC)."""
    with transaction.atomic():
        alarm = _lock(alarm)
        worker = alarm.worker
        if getattr(actor, "person", None) != worker:
            raise PermissionDenied("Only the worker who raised an alarm can cancel it.")
        now = clock.now()
        # A cancel after a cancel gets the same answer whichever PIN the first used:
        # both leave no cancel window.
        if alarm.kind != Alarm.Kind.RED or alarm.cancel_until is None or \
                alarm.cancel_until < now:
            raise AlarmConflict("This alarm can no longer be cancelled from the phone: the "
                                "alarm centre is dealing with it.")
        entered = pins.check(worker, pin)
        locked = pins.locked(worker, now)
        # MOV-04: from a cancel on, the worker sees the alarm as a cancel with the real
        # PIN leaves it, whichever PIN they used: one view, taken before either change.
        cancelled = worker_view.as_cancelled(alarm, now)
        if entered is Pin.DURESS and locked:
            # The phone gets the same refusal as for the real PIN and shows the alarm
            # as before; the alarm centre learns of the duress PIN at once.
            _duress_while_locked(alarm, actor=actor, now=now)
        elif entered is Pin.DURESS:
            _duress(alarm, actor=actor, now=now, how="cancelled the alarm")
        elif entered is Pin.NORMAL and not locked:
            _close(alarm, actor=actor, category=Alarm.Category.FALSE, worker_agreed=True,
                   note=worker_view.CANCELLED_NOTE, forward_as="cancelled", at=now)
        if entered is not Pin.WRONG and not locked:
            alarm.worker_view = cancelled
            alarm.save(update_fields=["worker_view"])
    if locked:
        raise AlarmError(pins.LOCKED)
    if entered is Pin.WRONG:
        # Outside the refused change's transaction, so the failed attempt is kept.
        pins.record_failure(worker, attempt=PinFailure.Attempt.ALARM_CANCEL, at=now)
        raise AlarmError("That PIN is not right.")
    return alarm


def _duress(alarm, *, actor, now, how: str) -> None:
    """A silent red alarm: to the phone it looks done; to the alarm centre it is urgent."""
    alarm.source, alarm.duress_suspected = Alarm.Source.DURESS, True
    # The phone shows it as cancelled from now on, and a second cancel is answered as
    # after any cancel: there is nothing left to cancel.
    alarm.cancel_until = None
    alarm.next_realert_at = now
    alarm.save(update_fields=["source", "duress_suspected", "cancel_until", "next_realert_at"])
    _event(alarm, "duress", f"DURESS: the worker {how} with their duress PIN", actor=actor,
           at=now)
    audit.record("alarm.duress", actor=actor, obj=alarm,
                 summary=f"Duress PIN: {alarm.worker} {how}")


def _duress_while_locked(alarm, *, actor, now) -> None:
    """The duress PIN entered while wrong PINs lock cancelling: nothing on the phone
    changes, the alarm centre is told at once."""
    alarm.duress_suspected = True
    alarm.next_realert_at = now
    alarm.save(update_fields=["duress_suspected", "next_realert_at"])
    _event(alarm, "duress", "DURESS: the worker entered their duress PIN to cancel the "
           "alarm; cancelling was locked after too many wrong PINs, so the phone shows the "
           "alarm as still raised", actor=actor, at=now)
    audit.record("alarm.duress", actor=actor, obj=alarm,
                 summary=f"Duress PIN: {alarm.worker} tried to cancel the alarm while "
                         "cancelling was locked")


def raise_duress_from_checkout(session: Session, *, actor, checked_out: bool = True) -> Alarm:
    """Check-out with the duress PIN: the phone sees a normal check-out; a silent red
    alarm goes to the alarm centre (MOV-04). ``checked_out`` is False when check-out was
    locked after too many wrong PINs: the session still runs. Runs inside the caller's
    transaction."""
    now = clock.now()
    alarm = Alarm.objects.create(
        organisation_id=session.worker.organisation_id, worker=session.worker, session=session,
        kind=Alarm.Kind.RED, source=Alarm.Source.DURESS, state=A.RAISED, raised_at=now,
        duress_suspected=True, hidden_from_worker=True, lat=session.last_lat,
        lon=session.last_lon,
        accuracy_m=session.last_accuracy_m, location_at=session.last_location_at,
        next_realert_at=now)
    hooks.evidence_changed(alarm)
    raised = _event(alarm, "duress", "DURESS: the worker checked out with their duress PIN"
                    if checked_out else "DURESS: the worker entered their duress PIN to check "
                    "out; check-out was locked after too many wrong PINs, so the session still "
                    "runs", actor=actor, at=now, forward_as="raised")
    audit.record("alarm.red", actor=actor, obj=alarm,
                 summary=f"Silent red alarm (duress PIN at check-out) from {session.worker}",
                 timeline=timeline.TIMELINE.anchor(raised))
    return alarm


def do_add_location(alarm: Alarm, *, actor, lat, lon, accuracy_m=None) -> Alarm:
    with transaction.atomic():
        alarm = _lock(alarm)
        if getattr(actor, "person", None) != alarm.worker:
            raise PermissionDenied("Only the worker's phone sends locations for their alarm.")
        if not alarm.open_for_worker:
            raise AlarmConflict("This alarm is closed.")
        if lat is None or lon is None:
            raise AlarmError("Give both latitude and longitude.")
        try:
            here = location(alarm.worker, lat, lon, accuracy_m)
        except ValueError as error:
            raise AlarmError(str(error)) from None
        if here is None:
            raise AlarmError("You have not agreed to your location being kept.")
        now = clock.now()
        alarm.lat, alarm.lon, alarm.accuracy_m, alarm.location_at = (
            here.lat, here.lon, here.accuracy_m, now)
        alarm.save(update_fields=["lat", "lon", "accuracy_m", "location_at"])
        _event(alarm, "location", "Location update", actor=actor, at=now, here=here)
    return alarm


def do_duty(person: Person, *, on: bool, actor) -> None:
    with transaction.atomic():
        now = clock.now()
        current = OperatorDuty.objects.select_for_update().filter(
            person=person, ended_at__isnull=True).first()
        if on and current is None:
            OperatorDuty.objects.create(person=person, started_at=now)
        elif not on and current is not None:
            current.ended_at = now
            current.save(update_fields=["ended_at"])
        else:
            return
        audit.record("alarm_centre.duty", actor=actor, obj=person,
                     summary=f"{person.full_name} {'on' if on else 'off'} duty")


def realert_due(limit: int = 100) -> int:
    """ALM-04: every red alarm not yet acknowledged re-alerts, again and again."""
    now = clock.now()
    interval = timedelta(seconds=settings.ALARM_ACK_SECONDS)
    with transaction.atomic():
        ids = claim(Alarm.objects.filter(next_realert_at__lte=now, state=A.RAISED)
                    .order_by("next_realert_at"), limit=limit)
        audited = []
        for alarm in Alarm.objects.filter(pk__in=ids).select_related("worker"):
            people = on_duty_operators(alarm.organisation_id) + supervisors(alarm.organisation_id)
            people = list(dict.fromkeys(people))
            subject, body, link = messages.alarm(alarm, now, again=True)
            notify.queue(people, [Channel.IN_APP, Channel.PUSH, Channel.SMS], subject=subject,
                         body=body, link=link, purpose="alarm_realert",
                         organisation_id=alarm.organisation_id, about=("alarm", alarm.pk))
            alarm.realerts += 1
            alarm.next_realert_at = now + interval
            alarm.save(update_fields=["realerts", "next_realert_at"])
            summary = (f"Not acknowledged after {round((now - alarm.raised_at).total_seconds())}"
                       f" s: re-alerted {len(people)} people")
            _event(alarm, "realert", summary, at=now, data={"realert": alarm.realerts})
            audited.append({"action": "alarm.realert", "object_type": "alarms.alarm",
                            "organisation_id": alarm.organisation_id, "object_id": alarm.pk,
                            "summary": f"Red alert from {alarm.worker}. {summary}",
                            "after": {"realert": alarm.realerts,
                                      "recipients": [p.pk for p in people]}})
        audit.record_many(audited)
    return len(ids)




def raise_from_escalation(session: Session, escalation_pk: int) -> Alarm | None:
    """An escalation step for the alarm centre arrives there as a red alarm (once per
    session while one is open). Runs inside the escalation step's transaction."""
    if Alarm.objects.filter(session=session, source=Alarm.Source.ESCALATION).exclude(
            state=A.CLOSED).exists():
        return None
    now = clock.now()
    alarm = Alarm.objects.create(
        organisation_id=session.worker.organisation_id, worker=session.worker, session=session,
        kind=Alarm.Kind.RED, source=Alarm.Source.ESCALATION, state=A.RAISED, raised_at=now,
        message="Missed check-in: the escalation reached the alarm centre",
        lat=session.last_lat, lon=session.last_lon, accuracy_m=session.last_accuracy_m,
        location_at=session.last_location_at,
        next_realert_at=now + timedelta(seconds=settings.ALARM_ACK_SECONDS))
    hooks.evidence_changed(alarm)
    raised = _event(alarm, "raised", "Raised by the missed check-in escalation", at=now,
                    data={"escalation": escalation_pk})
    audit.record("alarm.red", actor=None, obj=alarm,
                 summary=f"Red alarm from the missed check-in escalation of {session.worker}",
                 after={"escalation": escalation_pk, "session": session.pk},
                 timeline=timeline.TIMELINE.anchor(raised))
    return alarm


def record_delivery_outcomes(outcomes: list[Outcome], *, bulk: bool) -> None:
    """The ``notify.hooks.delivery_outcomes`` handler for messages about an alarm. A
    message that failed is a line on the alarm's own timeline, so the alarm centre sees
    who was not reached; the rest stay in the delivery rows, off the live stream. Never
    on the worker's session (MOV-04: what the alarm centre was sent about a duress alarm
    is not the worker's to read). Runs inside the caller's transaction."""
    timeline.append_rows([
        {"alarm_id": o.about_id, "at": o.at, "summary": o.summary[:300],
         "kind": "delivery_failed", "data": o.data | {"recipient": o.recipient_id}}
        for o in outcomes if o.about_kind == "alarm" and o.failed])
