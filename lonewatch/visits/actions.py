"""Starting, checking in on, extending and ending lone-working sessions (MOV-01..05,
BUD-01, BUD-02, ORG-04). The server holds every deadline: each change here sets
the stored ``due_at`` and reminder columns that the worker scans."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from lonewatch import clock
from lonewatch.accounts.actions import LIVE_TOKEN_SQL, PresentedToken, live_token_parameters
from lonewatch.accounts.models import User
from lonewatch.core import audit
from lonewatch.core import permissions as perms
from lonewatch.core.bulk import insert_rows
from lonewatch.notify import actions as notify
from lonewatch.notify.hooks import Outcome
from lonewatch.notify.models import Channel
from lonewatch.org import pins
from lonewatch.org.models import Absence, Person, PinFailure
from lonewatch.org.pins import Pin
from lonewatch.org.roles import Role
from lonewatch.visits import hooks, messages
from lonewatch.visits.access import access_session
from lonewatch.visits.models import Session, SessionEvent
from lonewatch.worker.claim import claim


class SessionError(ValueError):
    """Bad input for a session: the message is shown to the person as it is."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


@dataclass
class Location:
    lat: float
    lon: float
    accuracy_m: float | None


def _fmt(moment: datetime) -> str:
    return timezone.localtime(moment).strftime("%d %b %H:%M")


def _minutes(seconds: int) -> str:
    return f"{seconds // 60} minutes" if seconds % 60 == 0 and seconds >= 60 else \
        f"{seconds} seconds"


def location(worker: Person, lat, lon, accuracy_m=None) -> Location | None:
    """A checked location, or None when none was given or the worker has not consented
    to location being kept (MOV-05)."""
    position = checked_position(lat, lon, accuracy_m)
    if position is None or worker.location_consent_at is None:
        return None
    return position


def checked_position(lat, lon, accuracy_m=None) -> Location | None:
    """The position given, if it is a real one (SessionError if not), or None if none."""
    if lat is None and lon is None:
        return None
    if lat is None or lon is None:
        raise SessionError("Give both latitude and longitude, or neither.", "lat")
    if not -90 <= lat <= 90:
        raise SessionError("Latitude must be between -90 and 90.", "lat")
    if not -180 <= lon <= 180:
        raise SessionError("Longitude must be between -180 and 180.", "lon")
    if accuracy_m is not None and not 0 <= accuracy_m <= 100_000:
        raise SessionError("Accuracy must be between 0 and 100,000 metres.", "accuracy_m")
    return Location(lat, lon, accuracy_m)


def _check_interval(seconds: int, field: str = "interval_seconds") -> None:
    low, high = settings.MIN_CHECKIN_INTERVAL_SECONDS, settings.MAX_CHECKIN_INTERVAL_SECONDS
    if not isinstance(seconds, int) or isinstance(seconds, bool):
        raise SessionError("The check-in interval must be a whole number of seconds.", field)
    if seconds < low:
        raise SessionError(f"Check in at least every {_minutes(low)}: a shorter interval is "
                           f"not allowed ({seconds} seconds given).", field)
    if seconds > high:
        raise SessionError(f"The check-in interval can be at most {_minutes(high)}.", field)


def absence_during(person: Person, start: datetime, end: datetime) -> Absence | None:
    return person.absences.filter(starts_at__lt=end, ends_at__gt=start).order_by(
        "starts_at").first()


def _check_buddy(worker: Person, buddy: Person | None, cover: Person | None, start, end):
    """BUD-01: an accepted buddy; BUD-02: a named cover when the buddy is away."""
    if buddy is None:
        raise SessionError("Name your buddy for this session.", "buddy")
    if buddy.pk == worker.pk:
        raise SessionError("You cannot be your own buddy.", "buddy")
    if buddy.organisation_id != worker.organisation_id or not buddy.user.is_active:
        raise SessionError(f"There is no person with id {buddy.pk} who can be your buddy.",
                           "buddy")
    if worker.buddy_id != buddy.pk or worker.buddy_accepted_at is None:
        raise SessionError(f"{buddy.full_name} has not accepted being your buddy. Ask them to "
                           "accept on their Lonewatch home page, or name your usual buddy.",
                           "buddy")
    away = absence_during(buddy, start, end)
    if cover is None:
        if away is not None:
            raise SessionError(
                f"{buddy.full_name} is {away.get_reason_display().lower()} until "
                f"{_fmt(away.ends_at)}. Name a cover buddy before you start.", "cover_buddy")
        return
    if cover.pk in (worker.pk, buddy.pk):
        raise SessionError("The cover buddy must be someone other than you and your buddy.",
                           "cover_buddy")
    if cover.organisation_id != worker.organisation_id or not cover.user.is_active:
        raise SessionError(f"There is no person with id {cover.pk} who can be your cover "
                           "buddy.", "cover_buddy")
    if not cover.roles.filter(role=Role.BUDDY).exists():
        raise SessionError(f"{cover.full_name} is not a buddy in Lonewatch.", "cover_buddy")
    cover_away = absence_during(cover, start, end)
    if cover_away is not None:
        raise SessionError(f"{cover.full_name} is {cover_away.get_reason_display().lower()} "
                           f"until {_fmt(cover_away.ends_at)}: name someone else.",
                           "cover_buddy")


def _schedule(session: Session, now: datetime, due_at: datetime) -> None:
    session.due_at = due_at
    lead = min(settings.REMINDER_LEAD_SECONDS, session.interval_seconds // 3)
    session.remind_at = due_at - timedelta(seconds=lead) if lead > 0 else None
    if session.remind_at is not None and session.remind_at <= now:
        session.remind_at = None


def do_start_session(
    worker: Person, *, actor, kind: str, address: str, postcode: str = "",
    place_lat=None, place_lon=None, service_user_ref: str = "", planned_start: datetime,
    planned_end: datetime, travel_mode: str = Session.Travel.CAR, vehicle: str = "",
    buddy: Person | None, cover_buddy: Person | None = None, interval_seconds: int,
    lat=None, lon=None, accuracy_m=None,
) -> Session:
    now = clock.now()
    today = timezone.localdate(now)
    if timezone.is_naive(planned_start) or timezone.is_naive(planned_end):
        raise SessionError("Give the planned times with a time zone, like "
                           "2026-11-23T09:00:00Z or 2026-11-23T09:00:00+00:00.", "planned_start")
    if worker.unable_to_work_alone and (worker.unable_to_work_alone_review is None
                                        or worker.unable_to_work_alone_review > today):
        raise SessionError("Occupational health has advised that you must not work alone. "
                           "Talk to your line manager.")
    if kind not in Session.Kind.values:
        raise SessionError(f"kind must be one of {', '.join(Session.Kind.values)}.", "kind")
    if travel_mode not in Session.Travel.values:
        raise SessionError(f"travel_mode must be one of {', '.join(Session.Travel.values)}.",
                           "travel_mode")
    address = (address or "").strip()
    if not address:
        raise SessionError("Enter where you are going.", "address")
    if planned_end <= planned_start:
        raise SessionError("The planned end must be after the planned start.", "planned_end")
    if planned_end <= now:
        raise SessionError("The planned end is already in the past.", "planned_end")
    _check_interval(interval_seconds)
    if (place_lat is None) != (place_lon is None) or (
            place_lat is not None and not (-90 <= place_lat <= 90 and -180 <= place_lon <= 180)):
        raise SessionError("The place's coordinates are not a real position.", "place_lat")
    here = location(worker, lat, lon, accuracy_m)
    _check_buddy(worker, buddy, cover_buddy, min(now, planned_start), planned_end)
    with transaction.atomic():
        # One running session per worker: lock the worker's row so two phones cannot
        # both start one.
        Person.objects.select_for_update().filter(pk=worker.pk).first()
        if Session.objects.filter(worker=worker).exclude(state=Session.State.ENDED).exists():
            raise SessionError("You already have a session running. End it before you start "
                               "another.")
        session = Session(
            worker=worker, kind=kind, address=address[:300], postcode=postcode.strip()[:10],
            place_lat=place_lat, place_lon=place_lon, service_user_ref=service_user_ref[:60],
            planned_start=planned_start, planned_end=planned_end, travel_mode=travel_mode,
            vehicle=(vehicle or worker.vehicle_description)[:200], buddy=buddy,
            cover_buddy=cover_buddy, interval_seconds=interval_seconds,
            state=Session.State.ACTIVE, started_at=now, last_contact_at=now,
            end_remind_at=planned_end,
        )
        _schedule(session, now, now + timedelta(seconds=interval_seconds))
        if here:
            session.last_lat, session.last_lon = here.lat, here.lon
            session.last_accuracy_m, session.last_location_at = here.accuracy_m, now
        session.save()
        watched_by = (cover_buddy or buddy).full_name
        SessionEvent.objects.create(
            session=session, at=now, actor=actor, kind=SessionEvent.Kind.STARTED,
            summary=f"{session.get_kind_display()} started at {address[:120]}; "
                    f"{watched_by} is buddy; check in every {_minutes(interval_seconds)}",
            lat=here.lat if here else None, lon=here.lon if here else None,
            accuracy_m=here.accuracy_m if here else None,
        )
        audit.record("session.start", actor=actor, obj=session,
                     summary=f"{worker.full_name} started a {session.get_kind_display().lower()}",
                     after={"address": address, "planned_end": planned_end,
                            "buddy": buddy.username, "cover_buddy":
                                cover_buddy.username if cover_buddy else None,
                            "interval_seconds": interval_seconds})
    return session


def _own_session(session: Session, actor) -> Session:
    """Lock the session for a change only its worker may make."""
    locked = Session.objects.select_for_update().select_related("worker").get(pk=session.pk)
    if getattr(actor, "person", None) is None or locked.worker_id != actor.person.pk:
        raise PermissionDenied("Only the worker can check in on, extend or end their session.")
    if locked.state == Session.State.ENDED:
        raise SessionError("This session has already ended.")
    return locked


def renew_deadline(session: Session, now: datetime) -> None:
    """A fresh deadline one interval from now, after the worker is known to be safe."""
    session.state = Session.State.ACTIVE
    session.last_contact_at = now
    _schedule(session, now, now + timedelta(seconds=session.interval_seconds))
    session.save(update_fields=["state", "last_contact_at", "due_at", "remind_at"])


@dataclass(frozen=True)
class CheckedIn:
    """What a check-in answers: the session, its state and when the next check-in is due."""

    session_id: int
    state: str
    due_at: datetime


def do_check_in(session: Session | int, *, actor: User | PresentedToken, lat=None, lon=None,
                accuracy_m=None, note: str = "") -> CheckedIn:
    """MOV-02: a check-in moves the deadline one interval on from now; a late one (the
    session is overdue) also stops whatever chases the missed check-in (ESC-02).

    The one implementation of a check-in, for the phone's API (and its fast lane) and
    the web page alike: who may check in, what it writes and what it answers. ``session``
    is a session already fetched for ``actor``, or an id to fetch here (404 if the actor
    may not see it, 403 if they may see it but it is not theirs). ``actor`` is the
    signed-in user, or the bearer token the phone presented (``TokenRefused`` if it is
    not live).

    On PostgreSQL, a check-in by token is first tried as one SQL statement
    (``_check_in_in_one_statement``): token, deadline, position and timeline row in one
    round trip and one commit (Q-PERF, docs/performance.md). It does only the plain case
    (a live token, the caller's own session, active, a valid or no position) and
    otherwise changes nothing but the token's last use; everything else takes the
    ordinary path below, which decides every refusal. The statement runs at most once.
    Both write the same rows (see "What a check-in writes" below)."""
    note = note[:200]
    if isinstance(actor, PresentedToken) and connection.vendor == "postgresql" \
            and actor.plausible:
        try:
            position = checked_position(lat, lon, accuracy_m)
        except SessionError:
            pass  # the ordinary path refuses it, after saying who may check in at all
        else:
            done = _check_in_in_one_statement(
                actor, session if isinstance(session, int) else session.pk,
                position=position, now=clock.now(), note=note)
            if done is not None:
                return done
    user = actor.user() if isinstance(actor, PresentedToken) else actor
    if isinstance(session, int):
        session = access_session(user, session, action=perms.CHANGE)
    with transaction.atomic():
        session = _own_session(session, user)
        here = location(session.worker, lat, lon, accuracy_m)
        now = clock.now()
        late = session.state == Session.State.OVERDUE
        if late:
            hooks.worker_back_in_contact(session, actor=user)
        _write_check_in(session, actor=user, now=now, here=here, late=late, note=note)
    return CheckedIn(session.pk, session.state, session.due_at)


# What a check-in writes (MOV-02, MOV-05): the session's new deadline, the worker's last
# known position (only with their consent) and the check-in's line on the timeline. The
# ordinary path writes them with ``_write_check_in``, the one-statement path with
# ``CHECK_IN_SQL``; the two must leave the same rows (tests/test_mov_02_check_in_paths.py).

def _check_in_summary(note: str, *, late: bool) -> str:
    return ("Checked in late" if late else "Checked in") + (f": {note}" if note else "")


def _write_check_in(session: Session, *, actor, now: datetime, here: Location | None,
                    late: bool, note: str) -> None:
    """Inside the check-in's transaction, on the locked session."""
    renew_deadline(session, now)
    if here:
        _move(session, here, now)
    SessionEvent.objects.create(
        session=session, at=now, actor=actor, kind=SessionEvent.Kind.CHECKED_IN,
        summary=_check_in_summary(note, late=late),
        lat=here.lat if here else None, lon=here.lon if here else None,
        accuracy_m=here.accuracy_m if here else None,
        data={"due_at": session.due_at.isoformat(timespec="microseconds")},
    )


# The token (accounts.actions.LIVE_TOKEN_SQL), then the caller's own active session moved
# on (renew_deadline, _schedule, _move), then the timeline row (_write_check_in). No row
# comes back, and nothing is written but the token's last use, unless all of it holds.
# The position is given only if ``checked_position`` accepted it, all three parts or none.
CHECK_IN_SQL = f"""
WITH {LIVE_TOKEN_SQL}, moved AS (
    UPDATE visits_session AS s SET
        due_at = %(now)s + make_interval(secs => s.interval_seconds),
        remind_at = CASE WHEN LEAST(%(lead)s, s.interval_seconds / 3) > 0
            THEN %(now)s + make_interval(secs => s.interval_seconds
                                          - LEAST(%(lead)s, s.interval_seconds / 3))
            END,
        last_contact_at = %(now)s,
        last_lat = CASE WHEN p.location_consent_at IS NOT NULL AND %(lat)s::float8 IS NOT NULL
            THEN %(lat)s ELSE s.last_lat END,
        last_lon = CASE WHEN p.location_consent_at IS NOT NULL AND %(lat)s::float8 IS NOT NULL
            THEN %(lon)s ELSE s.last_lon END,
        last_accuracy_m = CASE WHEN p.location_consent_at IS NOT NULL
            AND %(lat)s::float8 IS NOT NULL THEN %(accuracy)s ELSE s.last_accuracy_m END,
        last_location_at = CASE WHEN p.location_consent_at IS NOT NULL
            AND %(lat)s::float8 IS NOT NULL THEN %(now)s ELSE s.last_location_at END
    FROM org_person AS p, token
    WHERE s.id = %(session)s AND s.state = 'active' AND p.id = s.worker_id
        AND p.user_id = token.user_id
    RETURNING s.id, s.due_at, p.location_consent_at IS NOT NULL AS consent, token.user_id
)
INSERT INTO visits_sessionevent (session_id, at, kind, actor_id, summary, lat, lon,
                                 accuracy_m, data)
SELECT id, %(now)s, 'checked_in', user_id, %(summary)s,
       CASE WHEN consent THEN %(lat)s::float8 END, CASE WHEN consent THEN %(lon)s::float8 END,
       CASE WHEN consent THEN %(accuracy)s::float8 END,
       jsonb_build_object('due_at', to_char(due_at AT TIME ZONE 'UTC',
                                            'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'))
FROM moved
RETURNING session_id, (SELECT due_at FROM moved)
"""  # noqa: S608 - the one part put in is accounts' own SQL; every value is a parameter


def _check_in_in_one_statement(token: PresentedToken, session_id: int, *,
                               position: Location | None, now: datetime,
                               note: str) -> CheckedIn | None:
    """The plain check-in as one statement; None, having changed nothing, for any other."""
    with connection.cursor() as cursor:
        cursor.execute(CHECK_IN_SQL, live_token_parameters(token, now) | {
            "lead": settings.REMINDER_LEAD_SECONDS, "session": session_id,
            "lat": position.lat if position else None,
            "lon": position.lon if position else None,
            "accuracy": position.accuracy_m if position else None,
            "summary": _check_in_summary(note, late=False),
        })
        row = cursor.fetchone()
    return CheckedIn(row[0], Session.State.ACTIVE, row[1]) if row else None


def _move(session: Session, here: Location, now: datetime) -> None:
    session.last_lat, session.last_lon = here.lat, here.lon
    session.last_accuracy_m, session.last_location_at = here.accuracy_m, now
    session.save(update_fields=["last_lat", "last_lon", "last_accuracy_m", "last_location_at"])


def do_extend(session: Session, *, actor, seconds: int, reason: str) -> Session:
    """MOV-02: "running late" — the next check-in is due ``seconds`` from now."""
    reason = (reason or "").strip()
    if not reason:
        raise SessionError("Say why you are running late.", "reason")
    _check_interval(seconds, "seconds")
    with transaction.atomic():
        session = _own_session(session, actor)
        now = clock.now()
        if session.state == Session.State.OVERDUE:
            hooks.worker_back_in_contact(session, actor=actor)
            session.state = Session.State.ACTIVE
        session.last_contact_at = now
        _schedule(session, now, now + timedelta(seconds=seconds))
        if session.due_at > session.planned_end:
            session.planned_end = session.due_at
            session.end_remind_at = session.due_at
        session.save(update_fields=["state", "last_contact_at", "due_at", "remind_at",
                                    "planned_end", "end_remind_at"])
        SessionEvent.objects.create(
            session=session, at=now, actor=actor, kind=SessionEvent.Kind.EXTENDED,
            summary=f"Running late ({reason[:150]}): next check-in due {_fmt(session.due_at)}",
            data={"seconds": seconds, "reason": reason[:500]},
        )
        audit.record("session.extend", actor=actor, obj=session,
                     summary=f"{session.worker.full_name} is running late: {reason[:150]}",
                     after={"due_at": session.due_at, "reason": reason[:500]})
    return session


def close(session: Session, now: datetime) -> None:
    """End a session and forget where the worker was (MOV-05: location is only kept
    while a session is active)."""
    session.state = Session.State.ENDED
    session.ended_at = now
    session.due_at = session.remind_at = session.end_remind_at = None
    session.last_lat = session.last_lon = session.last_accuracy_m = None
    session.last_location_at = None
    session.save(update_fields=["state", "ended_at", "due_at", "remind_at", "end_remind_at",
                                "last_lat", "last_lon", "last_accuracy_m", "last_location_at"])
    session.events.filter(lat__isnull=False).update(lat=None, lon=None, accuracy_m=None)


def do_end_session(session: Session, *, actor, pin: str) -> Session:
    """MOV-02: check-out with the worker's PIN ends the session. MOV-04: the duress PIN
    answers exactly alike and raises a silent red alarm. Q-SEC: wrong PINs here and
    at alarm cancel share one lockout (``org.pins``)."""
    with transaction.atomic():
        session = _own_session(session, actor)
        worker = session.worker
        if not worker.pin_hash:
            raise SessionError("Set your check-out PIN on your profile first.", "pin")
        now = clock.now()
        entered = pins.check(worker, pin)
        locked = pins.locked(worker, now)
        if entered is Pin.DURESS:
            # MOV-04: the phone sees an ordinary check-out (or, locked out, the same
            # refusal as for the real PIN); the alarm centre gets a silent red alarm at
            # once either way, before the session forgets where the worker was: a
            # lockout never silences the duress PIN.
            hooks.duress_at_checkout(session, actor=actor, checked_out=not locked)
        if entered is not Pin.WRONG and not locked:
            _close_checked_out(session, actor, now)
    if locked:
        raise SessionError(pins.LOCKED, "pin")
    if entered is Pin.WRONG:
        # Outside the refused change's transaction, so the failed attempt is kept.
        with transaction.atomic():
            pins.record_failure(worker, attempt=PinFailure.Attempt.CHECK_OUT, at=now)
            SessionEvent.objects.create(session=session, at=now, actor=actor,
                                        kind=SessionEvent.Kind.PIN_FAILED,
                                        summary="Check-out refused: wrong PIN")
        raise SessionError("That PIN is not right.", "pin")
    return session


def _close_checked_out(session: Session, actor, now) -> None:
    if session.state == Session.State.OVERDUE:
        hooks.worker_back_in_contact(session, actor=actor)
    close(session, now)
    SessionEvent.objects.create(session=session, at=now, actor=actor,
                                kind=SessionEvent.Kind.ENDED, summary="Checked out safely")
    audit.record("session.end", actor=actor, obj=session,
                 summary=f"{session.worker.full_name} checked out")


def do_set_pin(person: Person, *, pin: str, actor) -> None:
    _set_pin(person, pin, actor=actor, field="pin_hash", other="duress_pin_hash",
             name="check-out PIN", other_name="duress PIN", action="person.pin.set")


def do_set_duress_pin(person: Person, *, pin: str, actor) -> None:
    """MOV-04: a second PIN that looks like a normal one and raises a silent alarm."""
    _set_pin(person, pin, actor=actor, field="duress_pin_hash", other="pin_hash",
             name="duress PIN", other_name="check-out PIN", action="person.duress_pin.set")


def _set_pin(person: Person, pin: str, *, actor, field: str, other: str, name: str,
             other_name: str, action: str) -> None:
    """Store one of the worker's two PINs, hashed; the two must differ."""
    pin = (pin or "").strip()
    if not pin.isdigit() or not 4 <= len(pin) <= 8:
        raise SessionError(f"Your {name} must be 4 to 8 digits.", "pin")
    if getattr(person, other) and check_password(pin, getattr(person, other)):
        raise SessionError(f"Your {name} must be different from your {other_name}.", "pin")
    with transaction.atomic():
        setattr(person, field, make_password(pin))
        person.save(update_fields=[field])
        audit.record(action, actor=actor, obj=person,
                     summary=f"{person.full_name} set a {name}")


def do_set_location_consent(person: Person, *, consent: bool, actor) -> None:
    with transaction.atomic():
        person.location_consent_at = clock.now() if consent else None
        person.save(update_fields=["location_consent_at"])
        audit.record("person.location_consent", actor=actor, obj=person,
                     summary=f"{person.full_name} {'gave' if consent else 'withdrew'} consent "
                             "to location being kept during sessions")


def send_reminders(limit: int = 200) -> int:
    """MOV-03: remind the worker before each deadline and at the planned end."""
    now = clock.now()
    handled = 0
    with transaction.atomic():
        for column, end in (("remind_at", False), ("end_remind_at", True)):
            states = [Session.State.ACTIVE] if not end else [Session.State.ACTIVE,
                                                             Session.State.OVERDUE]
            ids = claim(Session.objects.filter(Q(**{f"{column}__lte": now}), state__in=states)
                        .order_by(column), limit=limit, update={column: None})
            for session in Session.objects.filter(pk__in=ids).select_related("worker"):
                if not end and session.due_at <= now:
                    continue  # the deadline itself has passed: the escalation takes over
                subject, body, link = messages.reminder(session, end=end)
                notify.queue([session.worker], [Channel.PUSH, Channel.IN_APP], subject=subject,
                             body=body, link=link,
                             purpose="end_reminder" if end else "checkin_reminder",
                             organisation_id=session.worker.organisation_id,
                             about=("session", session.pk))
                SessionEvent.objects.create(session=session, at=now,
                                            kind=SessionEvent.Kind.REMINDER, summary=subject)
            handled += len(ids)
    return handled


def record_delivery_outcomes(outcomes: list[Outcome], *, bulk: bool) -> None:
    """The ``notify.hooks.delivery_outcomes`` handler for messages about a session (the
    worker's own reminders). Runs inside the caller's transaction."""
    write_delivery_lines([(o.about_id, o) for o in outcomes if o.about_kind == "session"],
                         bulk=bulk)


def write_delivery_lines(lines: list[tuple[int, Outcome]], *, bulk: bool) -> None:
    """One timeline line per ``(session id, outcome)``, saying who the message went to,
    so a page can show each reader the lines that are theirs to see. Runs inside the
    caller's transaction."""
    rows = [{"session_id": session_id, "at": o.at, "summary": o.summary[:300],
             "kind": SessionEvent.Kind.DELIVERY_FAILED if o.failed else
             SessionEvent.Kind.DELIVERY, "data": o.data | {"recipient": o.recipient_id}}
            for session_id, o in lines]
    if bulk:
        insert_rows(SessionEvent, rows)
    else:
        SessionEvent.objects.bulk_create([SessionEvent(**row) for row in rows])
