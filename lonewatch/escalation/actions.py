"""The escalation engine and the people's actions on it (ESC-02, ESC-03, BUD-03).

Every deadline is a column: ``Session.due_at`` starts an escalation, and
``Escalation.next_step_at`` fires its next step. Workers claim due rows (see
worker.claim), act, and commit; the step index moves on in the same transaction
as the step's deliveries are queued, so a step can neither be lost nor fire twice.

Every start and every step is a line on the session's timeline and an event in the
audit trail (ORG-05), both written in bulk at the end of a pass. Locks are taken
session first, then escalation, everywhere: a check-in (which locks its session and
then resolves the escalation) never waits in a circle with an escalation action; the
scanner, which claims escalations first, skips those whose session is busy.
"""

from datetime import timedelta
from types import SimpleNamespace

from django.conf import settings
from django.db import connection, transaction

from lonewatch import clock
from lonewatch.alarms.actions import raise_from_escalation
from lonewatch.core import audit, bulk
from lonewatch.escalation import messages, policy, recipients
from lonewatch.escalation.models import Escalation, Target
from lonewatch.notify import actions as notify
from lonewatch.notify.hooks import Outcome
from lonewatch.notify.models import Channel, Delivery
from lonewatch.org.people import line_managers
from lonewatch.visits import timeline
from lonewatch.visits.actions import close, renew_deadline, write_delivery_lines
from lonewatch.visits.models import Session, SessionEvent
from lonewatch.worker.claim import claim


class EscalationConflict(Exception):
    """The escalation is not in a state that allows this (HTTP 409)."""


START_BATCH = 5000


def start_due(limit: int = START_BATCH) -> int:
    """Start an escalation for every active session whose deadline has passed.

    A first step that is already due and goes to the worker (the trust policy's "check
    in now") is fired in the same transaction, so the worker hears at once. Rows are
    built as plain values and written by COPY: a burst of thousands of deadlines that
    fall together costs a few statements per batch, not several per session.
    """
    now = clock.now()
    with transaction.atomic():
        rows = _claim_overdue(now, limit)
        if not rows:
            return 0
        new_ids = iter(bulk.reserve_ids(Escalation, len(rows)))
        steps_by_team: dict = {}
        escalations, events, outbox, audited = [], [], notify.Outbox(), []
        for (pk, due_at, address, postcode, last_contact_at, worker_id, name, email, mobile,
             organisation_id, team_id) in rows:
            key = (team_id, organisation_id)
            if key not in steps_by_team:
                steps_by_team[key] = [s.as_json() for s in policy.steps_for_team(*key)]
            steps = steps_by_team[key]
            # What a step's message and deliveries read of the session, without loading it.
            worker = SimpleNamespace(pk=worker_id, full_name=name, email=email, mobile=mobile,
                                     organisation_id=organisation_id)
            session = SimpleNamespace(pk=pk, worker=worker, address=address, postcode=postcode,
                                      last_contact_at=last_contact_at)
            escalation = SimpleNamespace(
                pk=next(new_ids), steps=steps, missed_at=due_at, next_step=0,
                next_step_at=due_at + timedelta(seconds=steps[0]["after_seconds"]))
            missed = f"Check-in due at {clock.hhmm(due_at)} was missed: escalation started"
            events.append(_event(pk, now, SessionEvent.Kind.DEADLINE_MISSED, missed,
                                 {"due_at": due_at.isoformat()}))
            start = {"action": "escalation.start", "object_type": ESCALATION,
                     "organisation_id": organisation_id, "object_id": escalation.pk,
                     "summary": f"{name}: {missed}",
                     "after": {"session": pk, "missed_at": due_at.isoformat(), "steps": []}}
            if steps[0]["target"] == Target.WORKER and escalation.next_step_at <= now:
                # A step fired with the start is recorded in the start's own audit event:
                # one event per missed deadline in a burst, not two.
                fired: list[dict] = []
                _step(escalation, session, [worker], now, outbox, events, fired)
                start["summary"] = f"{start['summary']}. {fired[0]['told']}"[:300]
                start["after"]["steps"].append(fired[0]["after"])
            audited.append(start)
            escalations.append({
                "id": escalation.pk, "session_id": pk, "state": Escalation.State.OPEN,
                "missed_at": due_at, "steps": steps, "next_step": escalation.next_step,
                "next_step_at": escalation.next_step_at,
                "outcome": "", "note": ""})
        bulk.insert_rows(Escalation, escalations)
        # The claim holds every session. The step first, then what it sent.
        with timeline.TIMELINE.batch(locked=[row[0] for row in rows]):
            timeline.append_rows(events, copy=True, locked=True)
            outbox.save(need_ids=False)
        _anchor(audited, events)
        audit.record_many(audited)
    return len(rows)


ESCALATION = "escalation.escalation"


def _anchor(audited: list[dict], lines: list[dict]) -> None:
    """Each escalation's start anchors its session's timeline in the audit trail, at the
    pass's last line: every check-in before the missed deadline, and the miss itself."""
    heads = {line["session_id"]: {"timeline": timeline.TIMELINE.name,
                                  "record": line["session_id"], "seq": line["seq"],
                                  "hash": line["hash"]} for line in lines}
    for entry in audited:
        if entry["action"] == "escalation.start":
            entry["timeline"] = heads[entry["after"]["session"]]


OVERDUE_COLUMNS = ("pk", "due_at", "address", "postcode", "last_contact_at", "worker_id",
                   "worker__full_name", "worker__email", "worker__mobile",
                   "worker__organisation_id", "worker__team_id")


def _claim_overdue(now, limit: int) -> list[tuple]:
    """Mark up to ``limit`` sessions past their deadline overdue, and return what their
    escalations need (``OVERDUE_COLUMNS``). On PostgreSQL one statement claims, marks
    and reads them (``FOR UPDATE SKIP LOCKED``: another worker takes the next ones)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE visits_session AS s SET state = %s "
                "FROM (SELECT id FROM visits_session WHERE state = %s AND due_at <= %s "
                "      ORDER BY due_at LIMIT %s FOR UPDATE SKIP LOCKED) AS due, "
                "     org_person AS p "
                "WHERE s.id = due.id AND p.id = s.worker_id "
                "RETURNING s.id, s.due_at, s.address, s.postcode, s.last_contact_at, p.id, "
                "          p.full_name, p.email, p.mobile, p.organisation_id, p.team_id",
                [Session.State.OVERDUE, Session.State.ACTIVE, now, limit])
            return cursor.fetchall()
    ids = claim(
        Session.objects.filter(state=Session.State.ACTIVE, due_at__lte=now).order_by("due_at"),
        limit=limit, update={"state": Session.State.OVERDUE})
    return list(Session.objects.filter(pk__in=ids).values_list(*OVERDUE_COLUMNS))


def fire_due(limit: int = 200) -> int:
    """Fire every escalation step whose time has come.

    The guard against a late or duplicate firing is the row lock: due rows are claimed
    (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, the one write lock on SQLite) and read
    again under it, and only an escalation still open fires. An acknowledge or resolve
    takes the same lock, so it either lands before the claim (nothing fires) or waits
    for the step's commit. No token is needed beside it."""
    now = clock.now()
    with transaction.atomic():
        ids = claim(Escalation.objects.filter(next_step_at__lte=now).order_by("next_step_at"),
                    limit=limit)
        # A session another transaction holds (a check-in, perhaps resolving this very
        # escalation) is not waited for: its step fires on the next pass.
        session_of = dict(Escalation.objects.filter(pk__in=ids).values_list("pk", "session_id"))
        free = set(timeline.TIMELINE.lock(session_of.values(), skip_locked=True))
        ids = [pk for pk in ids if session_of[pk] in free]
        outbox, events, fired, audited = notify.Outbox(), [], [], []
        # Only what every step needs is joined; a step for the line manager or a cover
        # buddy loads that person when it fires.
        for escalation in Escalation.objects.filter(pk__in=ids).select_related(
            "session__worker__team", "session__buddy",
        ):
            if escalation.state == Escalation.State.ACKNOWLEDGED:
                _remind_handler(escalation, now, outbox, events, audited)
            # Catch up on every step already due (after downtime, several may be).
            while (escalation.state == Escalation.State.OPEN
                   and escalation.next_step_at is not None and escalation.next_step_at <= now):
                _fire(escalation, now, outbox, events, audited)
            fired.append(escalation)
        with timeline.TIMELINE.batch(locked=free):
            timeline.append_rows(events, copy=True, locked=True)  # the step, then what it sent
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
        audit.record_many(audited)
    return len(ids)


def _event(session_id: int, at, kind: str, summary: str, data: dict | None = None) -> dict:
    return {"session_id": session_id, "at": at, "kind": kind, "summary": summary[:300],
            "data": data or {}}


def _fire(escalation: Escalation, now, outbox, events: list, audited: list) -> None:
    session = escalation.session
    target = escalation.steps[escalation.next_step]["target"]
    people = recipients.resolve(target, session)
    if target == Target.ALARM_CENTRE:
        raise_from_escalation(session, escalation.pk)
    _step(escalation, session, people, now, outbox, events, audited)


def _step(escalation, session, people: list, now, outbox, events: list,
          audited: list) -> None:
    """Send the escalation's next step to ``people`` and move it on to the one after."""
    number = escalation.next_step
    step = escalation.steps[number]
    scheduled = escalation.next_step_at
    subject, body, link = messages.escalation_step(session, escalation, step["target"], now)
    late = (now - scheduled).total_seconds()
    names = ", ".join(p.full_name for p in people) or "nobody (no one holds this role)"
    channels = ", ".join(Channel(c).label.lower() for c in step["channels"])
    told = f"Step {number + 1}: {Target(step['target']).label} told ({names}) by {channels}"
    recipient_ids = [p.pk for p in people]
    events.append(_event(
        session.pk, now, SessionEvent.Kind.STEP_FIRED, told,
        {"step": number + 1, "target": step["target"], "late_seconds": round(late, 1),
         "recipients": recipient_ids, "escalation": escalation.pk}))
    audited.append({
        "action": "escalation.step", "object_type": ESCALATION, "object_id": escalation.pk,
        "organisation_id": session.worker.organisation_id,
        "summary": f"Missed check-in of {session.worker.full_name}. {told}"[:300], "told": told,
        "after": {"session": session.pk, "step": number + 1, "target": step["target"],
                  "channels": step["channels"], "recipients": recipient_ids}})
    if late > settings.WATCHDOG_GRACE_SECONDS:
        events.append(_event(
            session.pk, now, SessionEvent.Kind.WATCHDOG,
            f"Step {number + 1} fired {round(late)} s late: no worker was free to fire it on "
            "time (stopped, crashed or overloaded)",
            {"step": number + 1, "late_seconds": round(late, 1)}))
    outbox.add(people, step["channels"], subject=subject, body=body, link=link,
               purpose=f"escalation_step_{number + 1}",
               organisation_id=session.worker.organisation_id,
               about=("escalation", escalation.pk), due_at=scheduled)
    escalation.next_step = number + 1
    if escalation.next_step < len(escalation.steps):
        after = escalation.steps[escalation.next_step]["after_seconds"]
        escalation.next_step_at = escalation.missed_at + timedelta(seconds=after)
    else:
        escalation.next_step_at = None


def _remind_handler(escalation: Escalation, now, outbox, events: list,
                    audited: list) -> None:
    """An acknowledged escalation nobody has closed: ask the handler again, and from the
    second time tell the worker's line manager too, so "I am handling this" cannot
    quietly end the chase."""
    session = escalation.session
    handler = escalation.acknowledged_by.person
    interval = timedelta(seconds=settings.HANDLING_REMINDER_SECONDS)
    times = max(1, int((now - escalation.acknowledged_at) / interval))
    people = [handler]
    if times >= 2:
        people += [p for p in line_managers(session.worker) if p != handler]
    subject, body, link = messages.still_handling(session, escalation, handler.full_name, now)
    outbox.add(people, [Channel.PUSH, Channel.SMS, Channel.IN_APP], subject=subject, body=body,
               link=link, purpose=f"handling_reminder_{times}",
               organisation_id=session.worker.organisation_id,
               about=("escalation", escalation.pk), due_at=escalation.next_step_at)
    asked = (f"Still open {round((now - escalation.acknowledged_at).total_seconds() / 60)} "
             f"min after {handler.full_name} took it: asked "
             f"{', '.join(p.full_name for p in people)} to record the outcome")
    events.append(_event(session.pk, now, SessionEvent.Kind.REMINDER, asked,
                         {"escalation": escalation.pk, "reminder": times}))
    audited.append({"action": "escalation.handling_reminder", "object_type": ESCALATION,
                    "organisation_id": session.worker.organisation_id,
                    "object_id": escalation.pk, "summary": asked[:300],
                    "after": {"session": session.pk, "reminder": times,
                              "recipients": [p.pk for p in people]}})
    escalation.next_step_at = now + interval


def _told(escalation: Escalation) -> set:
    """Everyone a message about this escalation went to."""
    return {d.recipient for d in Delivery.objects.filter(
        about_kind="escalation", about_id=escalation.pk).exclude(recipient=None)
        .select_related("recipient")}


def _lock(escalation: Escalation) -> Escalation:
    # The session first, as a check-in does (see the module's docstring).
    timeline.TIMELINE.lock([escalation.session_id])
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
        escalation.save(update_fields=["state", "acknowledged_by", "acknowledged_at",
                                       "next_step_at"])
        session = escalation.session
        name = actor.person.full_name
        timeline.append(session, at=now, actor=actor, kind=SessionEvent.Kind.ACKNOWLEDGED,
                        summary=f"{name} is handling this")
        audit.record("escalation.acknowledge", actor=actor, obj=escalation,
                     summary=f"{name} acknowledged the missed check-in of "
                             f"{session.worker.full_name}")
        told = _told(escalation) - {actor.person, session.worker}
        if told:
            subject, body, link = messages.handled(session, escalation, name)
            notify.queue(sorted(told, key=lambda p: p.pk), [Channel.IN_APP], subject=subject,
                         body=body, link=link, purpose="escalation_handled",
                         organisation_id=session.worker.organisation_id,
                         about=("escalation", escalation.pk))
    return escalation


# ESC-04: outcomes after which the police may need the worker's last location.
KEEP_LOCATION_FOR = frozenset({Escalation.Outcome.POLICE, Escalation.Outcome.HURT})


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
            renew_deadline(session, clock.now())
        else:
            now = clock.now()
            if outcome in KEEP_LOCATION_FOR:
                # ESC-04: the police need where the worker was, just when the session
                # ends; it is kept for the locate summary, then purged (visits).
                close(session, now, actor=actor,
                      keep_location_until=now + timedelta(days=settings.LOCATE_KEEP_DAYS),
                      why_kept=Escalation.Outcome(outcome).label.lower())
            else:
                close(session, now, actor=actor)
    return escalation


def _resolve(escalation, *, outcome, note, actor) -> Session:
    now = clock.now()
    escalation.state = Escalation.State.RESOLVED
    escalation.resolved_by, escalation.resolved_at = actor, now
    escalation.outcome, escalation.note = outcome, note[:2000]
    escalation.next_step_at = None
    escalation.save(update_fields=["state", "resolved_by", "resolved_at", "outcome", "note",
                                   "next_step_at"])
    session = Session.objects.select_for_update().get(pk=escalation.session_id)
    label = Escalation.Outcome(outcome).label
    who = actor.person.full_name if actor and hasattr(actor, "person") else "Lonewatch"
    resolved = timeline.append(
        session, at=now, actor=actor, kind=SessionEvent.Kind.RESOLVED,
        summary=f"Resolved by {who}: {label}" + (f" ({note[:150]})" if note else ""),
        data={"outcome": outcome, "escalation": escalation.pk},
    )
    audit.record("escalation.resolve", actor=actor, obj=escalation,
                 summary=f"Missed check-in of {session.worker.full_name} resolved: {label}",
                 after={"outcome": outcome, "note": note[:2000]},
                 timeline=timeline.TIMELINE.anchor(resolved))
    # Everyone who was told about the missed check-in hears how it ended.
    told = _told(escalation) - {getattr(actor, "person", None), session.worker}
    if told:
        subject, body, link = messages.resolved(session, escalation, who, label)
        notify.queue(sorted(told, key=lambda p: p.pk), [Channel.IN_APP, Channel.PUSH],
                     subject=subject, body=body, link=link, purpose="escalation_resolved",
                     organisation_id=session.worker.organisation_id,
                     about=("escalation", escalation.pk))
    return session


def resolve_by_worker(session: Session, *, actor) -> None:
    """The worker's own late check-in or check-out resolves an open escalation.
    Runs inside the caller's transaction."""
    escalation = Escalation.objects.select_for_update().filter(
        session=session).exclude(state=Escalation.State.RESOLVED).first()
    if escalation is not None:
        _resolve(escalation, outcome=Escalation.Outcome.LATE_CHECK_IN, note="", actor=actor)


def record_delivery_outcomes(outcomes: list[Outcome], *, bulk: bool) -> None:
    """The ``notify.hooks.delivery_outcomes`` handler for messages about an escalation:
    a line on the timeline of the escalation's session. Runs inside the caller's
    transaction."""
    mine = [o for o in outcomes if o.about_kind == "escalation"]
    if not mine:
        return
    session_of = _sessions_of({o.about_id for o in mine})
    write_delivery_lines([(session_of[o.about_id], o) for o in mine if o.about_id in session_of],
                         bulk=bulk)


def _sessions_of(escalation_ids: set[int]) -> dict[int, int]:
    """Escalation id to session id. On PostgreSQL as one array parameter, not thousands of
    parameters: a burst's delivery outcomes come by the thousand."""
    if connection.vendor != "postgresql":
        return dict(Escalation.objects.filter(pk__in=escalation_ids)
                    .values_list("pk", "session_id"))
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, session_id FROM escalation_escalation WHERE id = ANY(%s)",
                       [sorted(escalation_ids)])
        return dict(cursor.fetchall())
