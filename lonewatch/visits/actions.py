"""Starting, checking in on, extending and ending lone-working sessions (MOV-01..05,
BUD-01, BUD-02, ORG-04). The server holds every deadline: each change here sets
the stored ``due_at`` and reminder columns that the worker scans."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from lonewatch import clock
from lonewatch.accounts.actions import LIVE_TOKEN_SQL, PresentedToken, live_token_parameters
from lonewatch.accounts.models import User
from lonewatch.core import audit
from lonewatch.core import permissions as perms
from lonewatch.core.db import prepared_cursor
from lonewatch.notify import actions as notify
from lonewatch.notify.hooks import Outcome
from lonewatch.notify.models import Channel
from lonewatch.org import pins
from lonewatch.org.models import Absence, Person, PinFailure
from lonewatch.org.people import line_managers, role_holders
from lonewatch.org.pins import Pin
from lonewatch.org.roles import Role
from lonewatch.visits import hooks, messages, timeline
from lonewatch.visits.access import access_session
from lonewatch.visits.models import Session, SessionEvent
from lonewatch.worker.claim import claim


class SessionError(ValueError):
    """Bad input for a session: the message is shown to the person as it is."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


class SessionConflict(SessionError):
    """The session's state does not allow it (HTTP 409): one is already running, or this
    one has ended. Shown to the person as it is, as any ``SessionError``."""


@dataclass
class Location:
    lat: float
    lon: float
    accuracy_m: float | None


@dataclass(frozen=True)
class Bounds:
    """The values a number may take. The API states the same bounds in its schema and
    refuses with the same words."""

    name: str
    low: float
    high: float
    field: str
    unit: str = ""

    @property
    def message(self) -> str:
        return f"{self.name} must be between {self.low:,} and {self.high:,}{self.unit}."

    def allows(self, value) -> bool:
        return value is None or self.low <= value <= self.high

    def check(self, value) -> None:
        if not self.allows(value):
            raise SessionError(self.message, self.field)


# MOV-05: a position, and how sure the phone is of it.
LATITUDE = Bounds("Latitude", -90, 90, "lat")
LONGITUDE = Bounds("Longitude", -180, 180, "lon")
ACCURACY_M = Bounds("Accuracy", 0, 100_000, "accuracy_m", unit=" metres")


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
    LATITUDE.check(lat)
    LONGITUDE.check(lon)
    ACCURACY_M.check(accuracy_m)
    return Location(lat, lon, accuracy_m)


def check_interval(seconds: int, field: str = "interval_seconds") -> int:
    """How often a worker checks in (or how much later, when running late): whole seconds
    within the configured bounds, read when asked so a change of configuration holds at
    once."""
    low, high = settings.MIN_CHECKIN_INTERVAL_SECONDS, settings.MAX_CHECKIN_INTERVAL_SECONDS
    if not isinstance(seconds, int) or isinstance(seconds, bool):
        raise SessionError("The check-in interval must be a whole number of seconds.", field)
    if seconds < low:
        raise SessionError(f"Check in at least every {_minutes(low)}: a shorter interval is "
                           f"not allowed ({seconds} seconds given).", field)
    if seconds > high:
        raise SessionError(f"The check-in interval can be at most {_minutes(high)}.", field)
    return seconds


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
    if timezone.is_naive(planned_start) or timezone.is_naive(planned_end):
        raise SessionError("Give the planned times with a time zone, like "
                           "2026-11-23T09:00:00Z or 2026-11-23T09:00:00+00:00.", "planned_start")
    if worker.unable_to_work_alone:  # ORG-04: until occupational health lifts it
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
    check_interval(interval_seconds)
    if (place_lat is None) != (place_lon is None) or not (
            LATITUDE.allows(place_lat) and LONGITUDE.allows(place_lon)):
        raise SessionError("The place's coordinates are not a real position.", "place_lat")
    here = location(worker, lat, lon, accuracy_m)
    _check_buddy(worker, buddy, cover_buddy, min(now, planned_start), planned_end)
    with transaction.atomic():
        # One running session per worker: lock the worker's row so two phones cannot
        # both start one.
        Person.objects.select_for_update().filter(pk=worker.pk).first()
        if Session.objects.filter(worker=worker).exclude(state=Session.State.ENDED).exists():
            raise SessionConflict("You already have a session running. End it before you "
                                  "start another.")
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
        started = timeline.append(
            session, at=now, actor=actor, kind=SessionEvent.Kind.STARTED,
            summary=f"{session.get_kind_display()} started at {address[:120]}; "
                    f"{watched_by} is buddy; check in every {_minutes(interval_seconds)}",
            here=here,
        )
        audit.record("session.start", actor=actor, obj=session,
                     summary=f"{worker.full_name} started a {session.get_kind_display().lower()}",
                     after={"address": address, "planned_end": planned_end,
                            "buddy": buddy.username, "cover_buddy":
                                cover_buddy.username if cover_buddy else None,
                            "interval_seconds": interval_seconds},
                     timeline=timeline.TIMELINE.anchor(started))
    return session


def _own_session(session: Session, actor) -> Session:
    """Lock the session for a change only its worker may make."""
    locked = Session.objects.select_for_update().select_related("worker").get(pk=session.pk)
    if getattr(actor, "person", None) is None or locked.worker_id != actor.person.pk:
        raise PermissionDenied("Only the worker can check in on, extend or end their session.")
    if locked.state == Session.State.ENDED:
        raise SessionConflict("This session has already ended.")
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
    timeline.append(
        session, at=now, actor=actor, kind=SessionEvent.Kind.CHECKED_IN,
        summary=_check_in_summary(note, late=late), here=here,
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
""" + timeline.CHECK_IN_SQL  # noqa: S608 - accounts' and the timeline's own SQL; values are parameters


def _check_in_in_one_statement(token: PresentedToken, session_id: int, *,
                               position: Location | None, now: datetime,
                               note: str) -> CheckedIn | None:
    """The plain check-in as one statement; None, having changed nothing, for any other.

    ORG-05: the line is chained in the statement. Another line of the same session,
    committed after this statement's snapshot was taken, makes it fail whole (one line
    per place in the chain); tried again, it sees that line. Outside a transaction, as
    the fast lane and the API call it; inside one, the failure is the caller's."""
    summary = _check_in_summary(note, late=False)
    params = live_token_parameters(token, now) | {
        "lead": settings.REMINDER_LEAD_SECONDS, "session": session_id,
        "lat": position.lat if position else None,
        "lon": position.lon if position else None,
        "accuracy": position.accuracy_m if position else None,
        "summary": summary, **timeline.check_in_fields(session_id, now, summary),
    }
    for _attempt in range(2):
        try:
            with prepared_cursor() as cursor:
                cursor.execute(CHECK_IN_SQL, params)
                row = cursor.fetchone()
            return CheckedIn(row[0], Session.State.ACTIVE, row[1]) if row else None
        except IntegrityError:
            if connection.in_atomic_block:
                raise
    return None


def _move(session: Session, here: Location, now: datetime) -> None:
    session.last_lat, session.last_lon = here.lat, here.lon
    session.last_accuracy_m, session.last_location_at = here.accuracy_m, now
    session.save(update_fields=["last_lat", "last_lon", "last_accuracy_m", "last_location_at"])


def do_extend(session: Session, *, actor, seconds: int, reason: str) -> Session:
    """MOV-02: "running late" — the next check-in is due ``seconds`` from now."""
    reason = (reason or "").strip()
    if not reason:
        raise SessionError("Say why you are running late.", "reason")
    check_interval(seconds, "seconds")
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
        timeline.append(
            session, at=now, actor=actor, kind=SessionEvent.Kind.EXTENDED,
            summary=f"Running late ({reason[:150]}): next check-in due {_fmt(session.due_at)}",
            data={"seconds": seconds, "reason": reason[:500]},
        )
        audit.record("session.extend", actor=actor, obj=session,
                     summary=f"{session.worker.full_name} is running late: {reason[:150]}",
                     after={"due_at": session.due_at, "reason": reason[:500]})
        # MOV-02: the buddy is told, in Lonewatch and on their phone.
        subject, body, link = messages.running_late(session, reason)
        notify.queue([session.watching_buddy], [Channel.IN_APP, Channel.PUSH],
                     subject=subject, body=body, link=link, purpose="running_late",
                     organisation_id=session.worker.organisation_id,
                     about=("session", session.pk))
    return session


def close(session: Session, now: datetime, *, actor=None,
          keep_location_until: datetime | None = None, why_kept: str = "") -> None:
    """End a session and forget where the worker was (MOV-05: location is only kept
    while a session is active): its positions are deleted, and its timeline says which
    lines lost theirs, when and why. With ``keep_location_until`` (ESC-04: the police are
    involved, or the worker was found hurt) the last location and the positions stay
    for the locate summary until then, and the timeline says so. Runs inside the
    caller's transaction, with the session locked."""
    session.state = Session.State.ENDED
    session.ended_at = now
    session.due_at = session.remind_at = session.end_remind_at = None
    session.keep_location_until = keep_location_until
    fields = ["state", "ended_at", "due_at", "remind_at", "end_remind_at",
              "keep_location_until"]
    if keep_location_until is not None:
        session.save(update_fields=fields)
        timeline.append(session, kind=SessionEvent.Kind.LOCATION, at=now, actor=actor,
                        summary=f"Location kept for the locate summary until "
                                f"{_fmt(keep_location_until)}: {why_kept}"[:300],
                        data={"keep_location_until": keep_location_until.isoformat()})
        return
    _forget_location(session)
    session.save(update_fields=[*fields, "last_lat", "last_lon", "last_accuracy_m",
                                "last_location_at"])
    timeline.purge_positions(session, at=now, actor=actor,
                             why="the session ended, and locations are kept only while it "
                                 "runs (MOV-05)")


def _forget_location(session: Session) -> None:
    session.last_lat = session.last_lon = session.last_accuracy_m = None
    session.last_location_at = None


def purge_kept_locations(limit: int = 100) -> int:
    """ESC-04, MOV-05: when the time to keep a location for the police is over, the last
    location and the positions go, and the purge is written on the timeline and in the
    audit trail."""
    now = clock.now()
    with transaction.atomic():
        ids = claim(Session.objects.filter(keep_location_until__lte=now)
                    .order_by("keep_location_until"), limit=limit)
        for session in Session.objects.select_for_update().filter(pk__in=ids).select_related(
                "worker"):
            kept_until = session.keep_location_until
            _forget_location(session)
            session.keep_location_until = None
            session.save(update_fields=["last_lat", "last_lon", "last_accuracy_m",
                                        "last_location_at", "keep_location_until"])
            deleted = timeline.purge_positions(
                session, at=now, why="the time to keep it for the police ended (ESC-04)")
            audit.record("session.location.purge", actor=None, obj=session,
                         summary=f"Location of {session.worker.full_name}'s ended session "
                                 "deleted: the time to keep it for the police ended",
                         after={"positions": deleted, "kept_until": kept_until})
    return len(ids)


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
            timeline.append(session, at=now, actor=actor, kind=SessionEvent.Kind.PIN_FAILED,
                            summary="Check-out refused: wrong PIN")
        raise SessionError("That PIN is not right.", "pin")
    return session


def _close_checked_out(session: Session, actor, now) -> None:
    if session.state == Session.State.OVERDUE:
        hooks.worker_back_in_contact(session, actor=actor)
    close(session, now, actor=actor)
    ended = timeline.append(session, at=now, actor=actor, kind=SessionEvent.Kind.ENDED,
                            summary="Checked out safely")
    # The audit event anchors the whole timeline: every check-in up to the end.
    audit.record("session.end", actor=actor, obj=session,
                 summary=f"{session.worker.full_name} checked out",
                 timeline=timeline.TIMELINE.anchor(ended))


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
    """MOV-03: remind the worker before each deadline and at the planned end. Each
    reminder is a line on the session's timeline and an event in the audit trail (ORG-05),
    written together at the end of the pass."""
    now = clock.now()
    handled = 0
    audited = []
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
                # The line first, then what the reminder sent (its delivery lines).
                timeline.append(session, at=now, kind=SessionEvent.Kind.REMINDER,
                                summary=subject)
                notify.queue([session.worker], [Channel.PUSH, Channel.IN_APP], subject=subject,
                             body=body, link=link,
                             purpose="end_reminder" if end else "checkin_reminder",
                             organisation_id=session.worker.organisation_id,
                             about=("session", session.pk))
                audited.append({
                    "action": "session.end_reminder" if end else "session.reminder",
                    "object_type": "visits.session", "object_id": session.pk,
                    "organisation_id": session.worker.organisation_id,
                    "summary": f"{session.worker.full_name} reminded: {subject}"})
            handled += len(ids)
        audit.record_many(audited)
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
    timeline.append_rows(rows, copy=bulk)


def tell_line_manager_of_block(person: Person, *, actor) -> None:
    """The ``org.hooks.fitness_block_recorded`` handler (ORG-04): a block recorded while
    the worker has a running session tells their line manager at once. Runs inside the
    caller's transaction."""
    session = Session.objects.filter(worker=person).exclude(
        state=Session.State.ENDED).select_related("worker").first()
    if session is None:
        return
    subject, body, link = messages.block_during_session(person, session)
    notify.queue(line_managers(person), [Channel.IN_APP, Channel.PUSH, Channel.EMAIL],
                 subject=subject, body=body, link=link, purpose="fitness_block_in_session",
                 organisation_id=person.organisation_id, about=("session", session.pk))


def remind_fitness_reviews(limit: int = 100) -> int:
    """ORG-04: when the review date of an unable-to-work-alone mark comes, occupational
    health is reminded, once per review date. The mark itself stays until they lift it."""
    today = timezone.localdate(clock.now())
    with transaction.atomic():
        ids = claim(Person.objects.filter(
            unable_to_work_alone=True, unable_to_work_alone_review__lte=today).filter(
            Q(unable_to_work_alone_reminded__isnull=True)
            | Q(unable_to_work_alone_reminded__lt=F("unable_to_work_alone_review")))
            .order_by("unable_to_work_alone_review"), limit=limit)
        for person in Person.objects.filter(pk__in=ids).select_related("team"):
            advisors = role_holders(Role.OCCUPATIONAL_HEALTH, person)
            subject, body, link = messages.fitness_review_due(person)
            notify.queue(advisors, [Channel.IN_APP, Channel.EMAIL], subject=subject,
                         body=body, link=link, purpose="fitness_review_due",
                         organisation_id=person.organisation_id, about=("person", person.pk))
            Person.objects.filter(pk=person.pk).update(
                unable_to_work_alone_reminded=person.unable_to_work_alone_review)
            audit.record("person.fitness.review_due", actor=None, obj=person,
                         summary=f"Occupational health reminded to review {person.full_name}",
                         after={"review": person.unable_to_work_alone_review,
                                "told": [a.pk for a in advisors]})
    return len(ids)
