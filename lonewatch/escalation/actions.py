"""The escalation engine and the people's actions on it (ESC-02, ESC-03, BUD-03).

Every deadline is a column: ``Session.due_at`` starts an escalation, and
``Escalation.next_step_at`` fires its next step. Workers claim due rows (see
worker.claim), act, and commit; the step index moves on in the same transaction
as the step's deliveries are queued, so a step can neither be lost nor fire twice.
"""

import uuid
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from lonewatch import clock
from lonewatch.core import audit, bulk
from lonewatch.escalation import policy, recipients
from lonewatch.escalation.models import Channel, Escalation, Target
from lonewatch.notify import actions as notify
from lonewatch.notify import messages
from lonewatch.notify.models import Delivery
from lonewatch.visits.models import Session, SessionEvent
from lonewatch.worker.claim import claim


class EscalationConflict(Exception):
    """The escalation is not in a state that allows this (HTTP 409)."""


def _hhmm(moment) -> str:
    return timezone.localtime(moment).strftime("%H:%M")


def start_due(limit: int = 500) -> int:
    """Start an escalation for every active session whose deadline has passed."""
    now = clock.now()
    with transaction.atomic():
        ids = claim(
            Session.objects.filter(state=Session.State.ACTIVE, due_at__lte=now).order_by("due_at"),
            limit=limit, update={"state": Session.State.OVERDUE},
        )
        if not ids:
            return 0
        steps_by_team: dict = {}
        escalations, events = [], []
        for session in Session.objects.filter(pk__in=ids).select_related(
                "worker__team__directorate"):
            team = session.worker.team
            if team not in steps_by_team:
                steps_by_team[team] = [s.as_json() for s in policy.steps_for(team)]
            steps = steps_by_team[team]
            escalations.append(Escalation(
                session=session, missed_at=session.due_at, steps=steps, next_step=0,
                next_step_at=session.due_at + timedelta(seconds=steps[0]["after_seconds"]),
            ))
            events.append(SessionEvent(
                session=session, at=now, kind=SessionEvent.Kind.DEADLINE_MISSED,
                summary=f"Check-in due at {_hhmm(session.due_at)} was missed: escalation started",
                data={"due_at": session.due_at.isoformat()},
            ))
        bulk.insert(Escalation, escalations)
        bulk.insert(SessionEvent, events)
    return len(ids)


def fire_due(limit: int = 200) -> int:
    """Fire every escalation step whose time has come."""
    now = clock.now()
    with transaction.atomic():
        ids = claim(Escalation.objects.filter(next_step_at__lte=now).order_by("next_step_at"),
                    limit=limit)
        outbox, events, fired = notify.Outbox(), [], []
        # Only what every step needs is joined; a step for the line manager or a cover
        # buddy loads that person when it fires.
        for escalation in Escalation.objects.filter(pk__in=ids).select_related(
            "session__worker__team", "session__buddy",
        ):
            if escalation.state == Escalation.State.ACKNOWLEDGED:
                _remind_handler(escalation, now, outbox, events)
            # Catch up on every step already due (after downtime, several may be).
            while (escalation.state == Escalation.State.OPEN
                   and escalation.next_step_at is not None and escalation.next_step_at <= now):
                _fire(escalation, now, outbox, events)
            fired.append(escalation)
        bulk.insert(SessionEvent, events)  # the step first, then what it sent
        outbox.save(need_ids=False)
        # Escalations missed together move on together: one UPDATE per distinct next step
        # (Django's bulk_update builds a CASE per row and costs more than it saves here).
        groups: dict[tuple, list[int]] = {}
        for escalation in fired:
            key = (escalation.next_step, escalation.next_step_at)
            groups.setdefault(key, []).append(escalation.pk)
        for (next_step, next_step_at), pks in groups.items():
            Escalation.objects.filter(pk__in=pks).update(next_step=next_step,
                                                         next_step_at=next_step_at)
    return len(ids)


def _fire(escalation: Escalation, now, outbox, events: list) -> None:
    session = escalation.session
    number = escalation.next_step
    step = escalation.steps[number]
    scheduled = escalation.next_step_at
    people = recipients.resolve(step["target"], session)
    subject, body, link = messages.escalation_step(session, escalation, step["target"], now)
    outbox.add(people, step["channels"], subject=subject, body=body, link=link,
               purpose=f"escalation_step_{number + 1}",
               organisation_id=session.worker.organisation_id, session=session,
               escalation=escalation, due_at=scheduled)
    if step["target"] == Target.ALARM_CENTRE:
        from lonewatch.alarms.actions import raise_from_escalation

        raise_from_escalation(session, escalation.pk)
    late = (now - scheduled).total_seconds()
    names = ", ".join(p.full_name for p in people) or "nobody (no one holds this role)"
    channels = ", ".join(Channel(c).label.lower() for c in step["channels"])
    events.append(SessionEvent(
        session=session, at=now, kind=SessionEvent.Kind.STEP_FIRED,
        summary=f"Step {number + 1}: {Target(step['target']).label} told ({names}) by "
                f"{channels}"[:300],
        data={"step": number + 1, "target": step["target"], "late_seconds": round(late, 1),
              "recipients": [p.pk for p in people], "escalation": escalation.pk},
    ))
    if late > settings.WATCHDOG_GRACE_SECONDS:
        events.append(SessionEvent(
            session=session, at=now, kind=SessionEvent.Kind.WATCHDOG,
            summary=f"Step {number + 1} fired {round(late)} s late: no worker was free to "
                    "fire it on time (stopped, crashed or overloaded)",
            data={"step": number + 1, "late_seconds": round(late, 1)},
        ))
    escalation.next_step = number + 1
    if escalation.next_step < len(escalation.steps):
        after = escalation.steps[escalation.next_step]["after_seconds"]
        escalation.next_step_at = escalation.missed_at + timedelta(seconds=after)
    else:
        escalation.next_step_at = None


def _remind_handler(escalation: Escalation, now, outbox, events: list) -> None:
    """An acknowledged escalation nobody has closed: ask the handler again, and from the
    second time tell the worker's line manager too, so "I am handling this" cannot
    quietly end the chase."""
    session = escalation.session
    handler = escalation.acknowledged_by.person
    interval = timedelta(seconds=settings.HANDLING_REMINDER_SECONDS)
    times = max(1, int((now - escalation.acknowledged_at) / interval))
    people = [handler]
    if times >= 2:
        people += [p for p in recipients.line_managers(session.worker) if p != handler]
    subject, body, link = messages.still_handling(session, escalation, handler.full_name, now)
    outbox.add(people, [Channel.PUSH, Channel.SMS, Channel.IN_APP], subject=subject, body=body,
               link=link, purpose=f"handling_reminder_{times}",
               organisation_id=session.worker.organisation_id, session=session,
               escalation=escalation, due_at=escalation.next_step_at)
    events.append(SessionEvent(
        session=session, at=now, kind=SessionEvent.Kind.REMINDER,
        summary=f"Still open {round((now - escalation.acknowledged_at).total_seconds() / 60)} "
                f"min after {handler.full_name} took it: asked "
                f"{', '.join(p.full_name for p in people)} to record the outcome"[:300],
        data={"escalation": escalation.pk, "reminder": times}))
    escalation.next_step_at = now + interval


def _lock(escalation: Escalation) -> Escalation:
    return Escalation.objects.select_for_update().select_related(
        "session__worker").get(pk=escalation.pk)


def do_acknowledge(escalation: Escalation, *, actor) -> Escalation:
    """BUD-03: "I am handling this". Stops further steps to others."""
    with transaction.atomic():
        escalation = _lock(escalation)
        if escalation.state == Escalation.State.ACKNOWLEDGED:
            raise EscalationConflict(
                f"{escalation.acknowledged_by.person.full_name} is already handling this.")
        if escalation.state == Escalation.State.RESOLVED:
            raise EscalationConflict("This escalation is already resolved.")
        now = clock.now()
        escalation.state = Escalation.State.ACKNOWLEDGED
        escalation.acknowledged_by, escalation.acknowledged_at = actor, now
        # The policy's steps stop; a reminder to the handler takes their place.
        escalation.next_step_at = now + timedelta(seconds=settings.HANDLING_REMINDER_SECONDS)
        escalation.active_token = uuid.uuid4()
        escalation.save(update_fields=["state", "acknowledged_by", "acknowledged_at",
                                       "next_step_at", "active_token"])
        session = escalation.session
        name = actor.person.full_name
        SessionEvent.objects.create(session=session, at=now, actor=actor,
                                    kind=SessionEvent.Kind.ACKNOWLEDGED,
                                    summary=f"{name} is handling this")
        audit.record("escalation.acknowledge", actor=actor, obj=escalation,
                     summary=f"{name} acknowledged the missed check-in of "
                             f"{session.worker.full_name}")
        told = {d.recipient for d in Delivery.objects.filter(escalation=escalation)
                .exclude(recipient=None).select_related("recipient")}
        told -= {actor.person, session.worker}
        if told:
            subject, body, link = messages.handled(session, escalation, name)
            notify.queue(sorted(told, key=lambda p: p.pk), [Channel.IN_APP], subject=subject,
                         body=body, link=link, purpose="escalation_handled",
                         organisation_id=session.worker.organisation_id, session=session,
                         escalation=escalation)
    return escalation


def do_resolve(escalation: Escalation, *, outcome: str, note: str = "", actor) -> Escalation:
    """ESC-02: record what happened. "Worker safe" keeps the session running with a
    fresh deadline; every other outcome ends it."""
    if outcome not in Escalation.Outcome.values or outcome == Escalation.Outcome.LATE_CHECK_IN:
        allowed = [o for o in Escalation.Outcome.values if o != Escalation.Outcome.LATE_CHECK_IN]
        raise ValueError(f"outcome must be one of {', '.join(allowed)}")
    with transaction.atomic():
        escalation = _lock(escalation)
        if escalation.state == Escalation.State.RESOLVED:
            raise EscalationConflict("This escalation is already resolved.")
        session = _resolve(escalation, outcome=outcome, note=note, actor=actor)
        if outcome == Escalation.Outcome.SAFE:
            from lonewatch.visits.actions import renew_deadline

            renew_deadline(session, clock.now())
        else:
            from lonewatch.visits.actions import close

            close(session, clock.now())
    return escalation


def _resolve(escalation, *, outcome, note, actor) -> Session:
    now = clock.now()
    escalation.state = Escalation.State.RESOLVED
    escalation.resolved_by, escalation.resolved_at = actor, now
    escalation.outcome, escalation.note = outcome, note[:2000]
    escalation.next_step_at = None
    escalation.active_token = uuid.uuid4()
    escalation.save(update_fields=["state", "resolved_by", "resolved_at", "outcome", "note",
                                   "next_step_at", "active_token"])
    session = Session.objects.select_for_update().get(pk=escalation.session_id)
    label = Escalation.Outcome(outcome).label
    who = actor.person.full_name if actor and hasattr(actor, "person") else "Lonewatch"
    SessionEvent.objects.create(
        session=session, at=now, actor=actor, kind=SessionEvent.Kind.RESOLVED,
        summary=f"Resolved by {who}: {label}" + (f" ({note[:150]})" if note else ""),
        data={"outcome": outcome, "escalation": escalation.pk},
    )
    audit.record("escalation.resolve", actor=actor, obj=escalation,
                 summary=f"Missed check-in of {session.worker.full_name} resolved: {label}",
                 after={"outcome": outcome, "note": note[:2000]})
    # Everyone who was told about the missed check-in hears how it ended.
    told = {d.recipient for d in Delivery.objects.filter(escalation=escalation)
            .exclude(recipient=None).select_related("recipient")}
    told -= {getattr(actor, "person", None), session.worker}
    if told:
        subject, body, link = messages.resolved(session, escalation, who, label)
        notify.queue(sorted(told, key=lambda p: p.pk), [Channel.IN_APP, Channel.PUSH],
                     subject=subject, body=body, link=link, purpose="escalation_resolved",
                     organisation_id=session.worker.organisation_id, session=session,
                     escalation=escalation)
    return session


def resolve_by_worker(session: Session, *, actor) -> None:
    """The worker's own late check-in or check-out resolves an open escalation.
    Runs inside the caller's transaction."""
    escalation = Escalation.objects.select_for_update().filter(
        session=session).exclude(state=Escalation.State.RESOLVED).first()
    if escalation is not None:
        _resolve(escalation, outcome=Escalation.Outcome.LATE_CHECK_IN, note="", actor=actor)
