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
from lonewatch.core import audit, places
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
from lonewatch.visits.models import (
    Companion,
    Flag,
    IncidentPrompt,
    PlannedVisit,
    Session,
    SessionEvent,
    Venue,
)
from lonewatch.worker.claim import claim


class SessionError(ValueError):
    """Bad input for a session: the message is shown to the person as it is."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


class SessionConflict(SessionError):
    """The session's state does not allow it (HTTP 409): one is already running, or this
    one has ended. Shown to the person as it is, as any ``SessionError``."""


# PRE-04: the ways a high-risk visit may go ahead.
WAYS_OUT = ["accompanied", "neutral_location", "reschedule", "manager_exception"]


class HighRiskVisit(SessionConflict):
    """PRE-04: a high-risk visit cannot start as a lone visit (HTTP 409), with the
    reasons and the ways out."""

    def __init__(self, reasons: list[str]):
        super().__init__("This visit is high risk and cannot start as a lone visit. Record "
                         "who goes with you, move it to a neutral or secure place, "
                         "reschedule it, or ask your manager for an exception.", "companion")
        self.reasons = reasons
        self.requires = list(WAYS_OUT)


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
    lat=None, lon=None, accuracy_m=None, nhs_number: str = "", venue: str = Venue.HOME,
    companion: str = "", companion_name: str = "", planned: PlannedVisit | None = None,
) -> Session:
    """MOV-01: start a session. PRE-04: a visit is checked against the risk markers and
    the place's history first; a high-risk one starts only accompanied, at a neutral or
    secure place, or with a manager's exception, and its check-in interval is shortened
    to what its risks allow."""
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
    nhs_number, postcode = _who_and_where(nhs_number, postcode)
    _check_company(venue, companion, companion_name)
    _check_buddy(worker, buddy, cover_buddy, min(now, planned_start), planned_end)
    risk = hooks.Risk()
    if kind == Session.Kind.VISIT:
        risk = hooks.risk_of(worker, actor=actor, nhs_number=nhs_number,
                             service_user_ref=service_user_ref, postcode=postcode,
                             address=address, why="checked as the visit started")
        excepted = planned is not None and planned.exception_at is not None
        if risk.high and not (companion or venue != Venue.HOME or excepted):
            raise HighRiskVisit(risk.reasons)
        if risk.interval_seconds:
            interval_seconds = max(min(interval_seconds, risk.interval_seconds),
                                   settings.MIN_CHECKIN_INTERVAL_SECONDS)
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
            end_remind_at=planned_end, nhs_number=nhs_number, venue=venue,
            companion=companion, companion_name=companion_name.strip()[:200],
            risk=risk.risk,
        )
        _schedule(session, now, now + timedelta(seconds=interval_seconds))
        if here:
            session.last_lat, session.last_lon = here.lat, here.lon
            session.last_accuracy_m, session.last_location_at = here.accuracy_m, now
        session.save()
        if planned is not None:
            _mark_started(planned, session, worker)
        watched_by = (cover_buddy or buddy).full_name
        started = timeline.append(
            session, at=now, actor=actor, kind=SessionEvent.Kind.STARTED,
            summary=f"{session.get_kind_display()} started at {address[:120]}; "
                    f"{watched_by} is buddy; check in every {_minutes(interval_seconds)}"
                    f"{' (a high-risk visit)' if risk.high else ''}",
            here=here,
        )
        audit.record("session.start", actor=actor, obj=session,
                     summary=f"{worker.full_name} started a {session.get_kind_display().lower()}",
                     after={"address": address, "planned_end": planned_end,
                            "buddy": buddy.username, "cover_buddy":
                                cover_buddy.username if cover_buddy else None,
                            "interval_seconds": interval_seconds, "risk": risk.risk,
                            "venue": venue, "companion": companion,
                            "planned_visit": planned.pk if planned else None},
                     timeline=timeline.TIMELINE.anchor(started))
    return session


def _who_and_where(nhs_number: str, postcode: str) -> tuple[str, str]:
    """The NHS number and postcode written one way (PRE-04), or SessionError."""
    try:
        return places.nhs(nhs_number), places.postcode(postcode) if postcode.strip() else ""
    except places.NotUnderstood as error:
        raise SessionError(str(error), error.field) from None


def _check_company(venue: str, companion: str, companion_name: str) -> None:
    if venue not in Venue.values:
        raise SessionError(f"venue must be one of {', '.join(Venue.values)}.", "venue")
    if companion and companion not in Companion.values:
        raise SessionError(f"companion must be one of {', '.join(Companion.values)}.",
                           "companion")
    if companion and not (companion_name or "").strip():
        raise SessionError("Say who goes with you: their name, or the police reference.",
                           "companion_name")
    if companion_name.strip() and not companion:
        raise SessionError("Say whether a colleague, a security officer or the police go "
                           "with you.", "companion")


def _mark_started(planned: PlannedVisit, session: Session, worker: Person) -> None:
    """The planned visit became this session: its deadlines stop."""
    locked = PlannedVisit.objects.select_for_update().get(pk=planned.pk)
    if locked.worker_id != worker.pk or locked.state != PlannedVisit.State.PLANNED:
        raise SessionConflict("That planned visit has already started, been cancelled or "
                              "is not yours.")
    PlannedVisit.objects.filter(pk=planned.pk).update(
        state=PlannedVisit.State.STARTED, session=session, prompt_at=None, no_show_at=None)


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
    # PRE-06: a worker who withdrew is safe now, and is asked to report the incident.
    IncidentPrompt.objects.filter(session=session, safe_at__isnull=True).update(safe_at=now)
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


# --- the day's plan (MOV-01, PRE-04, PRE-05) -----------------------------------------


def _own_plan(visit: PlannedVisit, actor) -> PlannedVisit:
    """Lock a planned visit for a change only its worker may make, while it is planned."""
    locked = PlannedVisit.objects.select_for_update(of=("self",)).select_related(
        "worker", "buddy").get(pk=visit.pk)
    if getattr(actor, "person", None) is None or locked.worker_id != actor.person.pk:
        raise PermissionDenied("Only the worker changes their own plan.")
    if locked.state != PlannedVisit.State.PLANNED:
        raise SessionConflict(f"This visit is {locked.get_state_display().lower()}: it "
                              "can no longer be changed.")
    return locked


def _check_times(planned_start: datetime, planned_end: datetime, now: datetime) -> None:
    if timezone.is_naive(planned_start) or timezone.is_naive(planned_end):
        raise SessionError("Give the planned times with a time zone, like "
                           "2026-11-23T09:00:00Z.", "planned_start")
    if planned_end <= planned_start:
        raise SessionError("The planned end must be after the planned start.", "planned_end")
    if planned_end <= now:
        raise SessionError("The planned end is already in the past.", "planned_end")
    if planned_start > now + timedelta(days=92):
        raise SessionError("Plan visits at most three months ahead.", "planned_start")


def _deadlines(visit: PlannedVisit) -> None:
    """MOV-01: ask the worker at the planned start; tell the buddy at start + the team's
    grace. Both stored, both cleared when the visit starts or is cancelled."""
    grace = visit.worker.team.no_show_grace_minutes if visit.worker.team_id else 15
    visit.prompt_at = visit.planned_start
    visit.no_show_at = visit.planned_start + timedelta(minutes=grace)


def _visit_risk(visit: PlannedVisit, actor, why: str) -> hooks.Risk:
    return hooks.risk_of(visit.worker, actor=actor, nhs_number=visit.nhs_number,
                         service_user_ref=visit.service_user_ref, postcode=visit.postcode,
                         address=visit.address, why=why)


def do_plan_visit(worker: Person, *, actor, address: str, postcode: str = "",
                  service_user_ref: str = "", nhs_number: str = "", planned_start: datetime,
                  planned_end: datetime, travel_mode: str = Session.Travel.CAR,
                  buddy: Person | None, venue: str = Venue.HOME, companion: str = "",
                  companion_name: str = "") -> tuple[PlannedVisit, hooks.Risk]:
    """MOV-01: plan a visit ahead. PRE-04: it is checked against the risk markers at once,
    and the answer (low or high, and why) comes back with it."""
    if getattr(actor, "person", None) is None or actor.person.pk != worker.pk:
        raise PermissionDenied("Only the worker plans their own visits.")
    now = clock.now()
    _check_times(planned_start, planned_end, now)
    address = (address or "").strip()
    if not address:
        raise SessionError("Enter where you are going.", "address")
    if travel_mode not in Session.Travel.values:
        raise SessionError(f"travel_mode must be one of {', '.join(Session.Travel.values)}.",
                           "travel_mode")
    nhs_number, postcode = _who_and_where(nhs_number, postcode)
    _check_company(venue, companion, companion_name)
    _check_buddy(worker, buddy, None, now, now)  # absences are checked when it starts
    visit = PlannedVisit(
        worker=worker, buddy=buddy, address=address[:300], postcode=postcode,
        service_user_ref=(service_user_ref or "").strip()[:60], nhs_number=nhs_number,
        planned_start=planned_start, planned_end=planned_end, travel_mode=travel_mode,
        venue=venue, companion=companion, companion_name=companion_name.strip()[:200],
        created_at=now)
    risk = _visit_risk(visit, actor, "shown for a visit being planned")
    visit.risk = risk.risk
    _deadlines(visit)
    with transaction.atomic():
        visit.save()
        audit.record("visit.plan", actor=actor, obj=visit,
                     summary=f"{worker.full_name} planned a visit for "
                             f"{_fmt(planned_start)} ({risk.risk} risk)",
                     after={"address": visit.address, "planned_start": planned_start,
                            "planned_end": planned_end, "buddy": buddy.username,
                            "risk": risk.risk})
    return visit, risk


def do_move_visit(visit: PlannedVisit, *, actor, planned_start: datetime | None = None,
                  planned_end: datetime | None = None, address: str | None = None,
                  postcode: str | None = None, venue: str | None = None
                  ) -> tuple[PlannedVisit, hooks.Risk]:
    """MOV-01: move a planned visit to another time or place (PRE-04: a neutral or secure
    place is a way out for a high-risk visit); the buddy is told."""
    now = clock.now()
    with transaction.atomic():
        visit = _own_plan(visit, actor)
        before = visit.planned_start
        start = planned_start or visit.planned_start
        end = planned_end or (start + (visit.planned_end - visit.planned_start))
        _check_times(start, end, now)
        if address is not None:
            if not address.strip():
                raise SessionError("Enter where the visit is now.", "address")
            visit.address = address.strip()[:300]
        if postcode is not None:
            visit.nhs_number, visit.postcode = _who_and_where(visit.nhs_number, postcode)
        if venue is not None:
            _check_company(venue, visit.companion, visit.companion_name)
            visit.venue = venue
        visit.planned_start, visit.planned_end = start, end
        risk = _visit_risk(visit, actor, "shown for a visit being moved")
        visit.risk = risk.risk
        _deadlines(visit)
        visit.save()
        subject, body, link = messages.visit_changed(
            visit, cancelled=False, before=before if before != start else None)
        _tell_buddy(visit, subject, body, link, "visit_moved")
        audit.record("visit.move", actor=actor, obj=visit,
                     summary=f"{visit.worker.full_name} moved a visit to {_fmt(start)}",
                     before={"planned_start": before},
                     after={"planned_start": start, "planned_end": end,
                            "address": visit.address, "venue": visit.venue,
                            "risk": risk.risk})
    return visit, risk


def do_record_company(visit: PlannedVisit, *, actor, companion: str,
                      companion_name: str) -> PlannedVisit:
    """PRE-04: who goes with the worker on a planned visit (a colleague, a security officer
    or the police), or nobody: a way out for a high-risk visit."""
    companion_name = (companion_name or "").strip()
    _check_company(Venue.HOME, companion, companion_name)
    with transaction.atomic():
        visit = _own_plan(visit, actor)
        before = {"companion": visit.companion, "companion_name": visit.companion_name}
        visit.companion, visit.companion_name = companion, companion_name[:200]
        visit.save(update_fields=["companion", "companion_name"])
        audit.record("visit.company", actor=actor, obj=visit,
                     summary=f"{visit.worker.full_name} recorded who goes on a visit: "
                             f"{visit.get_companion_display() if companion else 'nobody'}",
                     before=before, after={"companion": companion,
                                           "companion_name": visit.companion_name})
    return visit


def do_cancel_visit(visit: PlannedVisit, *, actor, reason: str = "") -> PlannedVisit:
    """MOV-01: cancel a planned visit; its deadlines stop and the buddy is told."""
    with transaction.atomic():
        visit = _own_plan(visit, actor)
        visit.state = PlannedVisit.State.CANCELLED
        visit.cancelled_at = clock.now()
        visit.cancel_reason = (reason or "").strip()[:300]
        visit.prompt_at = visit.no_show_at = None
        visit.save()
        subject, body, link = messages.visit_changed(visit, cancelled=True)
        _tell_buddy(visit, subject, body, link, "visit_cancelled")
        audit.record("visit.cancel", actor=actor, obj=visit,
                     summary=f"{visit.worker.full_name} cancelled a visit planned for "
                             f"{_fmt(visit.planned_start)}",
                     after={"reason": visit.cancel_reason})
    return visit


def do_approve_exception(visit: PlannedVisit, *, actor, reason: str) -> PlannedVisit:
    """PRE-04: a manager lets a high-risk visit go ahead as a lone visit, with a written
    reason, audited. Who may is the permission registry's (``act`` on the plan)."""
    reason = (reason or "").strip()
    if len(reason) < 10:
        raise SessionError("Write why this visit may go ahead alone (at least a sentence).",
                           "reason")
    if not perms.can(actor, perms.ACT, "planned_visit", visit):
        raise PermissionDenied("Only the worker's manager approves an exception.")
    with transaction.atomic():
        locked = PlannedVisit.objects.select_for_update(of=("self",)).select_related(
            "worker").get(pk=visit.pk)
        if locked.state != PlannedVisit.State.PLANNED:
            raise SessionConflict("Only a visit still planned can be given an exception.")
        locked.exception_reason, locked.exception_by = reason[:2000], actor
        locked.exception_at = clock.now()
        locked.save(update_fields=["exception_reason", "exception_by", "exception_at"])
        audit.record("visit.exception", actor=actor, obj=locked,
                     summary=f"Exception approved: {locked.worker.full_name} may visit "
                             f"{locked.address[:80]} alone",
                     after={"reason": locked.exception_reason, "risk": locked.risk})
    return locked


def do_confirm_briefing(visit: PlannedVisit, *, actor) -> PlannedVisit:
    """PRE-05: the worker read the briefing and has the team's emergency equipment."""
    with transaction.atomic():
        visit = _own_plan(visit, actor)
        visit.briefed_at = clock.now()
        visit.save(update_fields=["briefed_at"])
        audit.record("visit.briefed", actor=actor, obj=visit,
                     summary=f"{visit.worker.full_name} confirmed the briefing and the "
                             "emergency equipment",
                     after={"equipment": visit.worker.team.equipment
                            if visit.worker.team_id else []})
    return visit


def do_start_planned(visit: PlannedVisit, *, actor, interval_seconds: int | None = None,
                     cover_buddy: Person | None = None, lat=None, lon=None,
                     accuracy_m=None) -> Session:
    """MOV-01: one tap starts a planned visit; it becomes the session, with the plan's
    place, person, times, travel, buddy and company."""
    if getattr(actor, "person", None) is None or visit.worker_id != actor.person.pk:
        raise PermissionDenied("Only the worker starts their own visit.")
    now = clock.now()
    end = max(visit.planned_end, now + (visit.planned_end - visit.planned_start))
    return do_start_session(
        visit.worker, actor=actor, kind=Session.Kind.VISIT, address=visit.address,
        postcode=visit.postcode, service_user_ref=visit.service_user_ref,
        nhs_number=visit.nhs_number, planned_start=min(now, visit.planned_start),
        planned_end=end, travel_mode=visit.travel_mode, buddy=visit.buddy,
        cover_buddy=cover_buddy,
        interval_seconds=interval_seconds or settings.PLANNED_VISIT_INTERVAL_SECONDS,
        lat=lat, lon=lon, accuracy_m=accuracy_m, venue=visit.venue,
        companion=visit.companion, companion_name=visit.companion_name, planned=visit)


def _tell_buddy(visit: PlannedVisit, subject: str, body: str, link: str, purpose: str):
    notify.queue([visit.buddy], [Channel.IN_APP, Channel.PUSH], subject=subject, body=body,
                 link=link, purpose=purpose, organisation_id=visit.worker.organisation_id,
                 about=("planned_visit", visit.pk))


def prompt_planned_visits(limit: int = 200) -> int:
    """MOV-01: at a planned visit's start, not started, the worker is asked to start,
    move or cancel it."""
    now = clock.now()
    with transaction.atomic():
        ids = claim(PlannedVisit.objects.filter(prompt_at__lte=now,
                                                state=PlannedVisit.State.PLANNED)
                    .order_by("prompt_at"), limit=limit, update={"prompt_at": None})
        for visit in PlannedVisit.objects.filter(pk__in=ids).select_related("worker"):
            subject, body, link = messages.visit_not_started(visit)
            notify.queue([visit.worker], [Channel.PUSH, Channel.IN_APP], subject=subject,
                         body=body, link=link, purpose="visit_not_started",
                         organisation_id=visit.worker.organisation_id,
                         about=("planned_visit", visit.pk))
    return len(ids)


def tell_buddies_of_no_shows(limit: int = 200) -> int:
    """MOV-01 (000 §13: "failing to attend a visit … within an agreed time"): a planned
    visit not started by start + grace tells the buddy, once, and is marked missed."""
    now = clock.now()
    with transaction.atomic():
        ids = claim(PlannedVisit.objects.filter(no_show_at__lte=now,
                                                state=PlannedVisit.State.PLANNED)
                    .order_by("no_show_at"), limit=limit,
                    update={"no_show_at": None, "prompt_at": None,
                            "state": PlannedVisit.State.MISSED})
        for visit in PlannedVisit.objects.filter(pk__in=ids).select_related("worker",
                                                                            "buddy"):
            subject, body, link = messages.no_show(visit)
            notify.queue([visit.buddy], [Channel.IN_APP, Channel.PUSH, Channel.SMS],
                         subject=subject, body=body, link=link, purpose="visit_no_show",
                         organisation_id=visit.worker.organisation_id,
                         about=("planned_visit", visit.pk))
            audit.record("visit.no_show", actor=None, obj=visit,
                         summary=f"{visit.worker.full_name} did not start a visit planned "
                                 f"for {_fmt(visit.planned_start)}: "
                                 f"{visit.buddy.full_name} told",
                         after={"buddy": visit.buddy.username})
    return len(ids)


# --- during the visit (PRE-06) --------------------------------------------------------


def do_flag(session: Session, *, actor, signs: list[str], lat=None, lon=None,
            accuracy_m=None) -> list[Flag]:
    """PRE-06: warning signs noted during a visit, with the time, and where on the
    timeline (kept while the session runs, MOV-05)."""
    signs = list(dict.fromkeys(signs or []))
    if not signs:
        raise SessionError("Choose at least one warning sign.", "signs")
    unknown = [s for s in signs if s not in Flag.Sign.values]
    if unknown:
        raise SessionError(f"signs must be among {', '.join(Flag.Sign.values)}.", "signs")
    with transaction.atomic():
        session = _own_session(session, actor)
        now = clock.now()
        here = location(session.worker, lat, lon, accuracy_m)
        flags = [Flag.objects.create(session=session, sign=s, at=now) for s in signs]
        names = ", ".join(f.get_sign_display().lower() for f in flags)
        timeline.append(session, at=now, actor=actor, kind=SessionEvent.Kind.FLAG,
                        summary=f"Warning signs: {names}", here=here,
                        data={"signs": signs})
        audit.record("session.flag", actor=actor, obj=session,
                     summary=f"{session.worker.full_name} noted warning signs: {names}",
                     after={"signs": signs})
    return flags


def do_withdraw(session: Session, *, actor, lat=None, lon=None,
                accuracy_m=None) -> Session:
    """PRE-06: "withdrawing now": the buddy is told, the next check-in is due sooner, and
    once the worker is safe (the session ends) they are asked to report the incident;
    the prompt and the facts are kept for the incident form."""
    with transaction.atomic():
        session = _own_session(session, actor)
        if session.withdrew_at is not None:
            raise SessionConflict("You have already said you are withdrawing. Check in "
                                  "when you are safe.")
        now = clock.now()
        here = location(session.worker, lat, lon, accuracy_m)
        session.withdrew_at = now
        due = now + timedelta(seconds=min(settings.WITHDRAW_CHECKIN_SECONDS,
                                          session.interval_seconds))
        fields = ["withdrew_at"]
        if session.state == Session.State.ACTIVE and session.due_at > due:
            _schedule(session, now, due)
            fields += ["due_at", "remind_at"]
        session.save(update_fields=fields)
        timeline.append(session, at=now, actor=actor, kind=SessionEvent.Kind.WITHDRAWING,
                        summary=f"Withdrawing now; next check-in due by {_fmt(session.due_at)}",
                        here=here)
        IncidentPrompt.objects.create(
            session=session, worker=session.worker, withdrew_at=now,
            facts={"address": session.address, "postcode": session.postcode,
                   "signs": list(session.flags.values_list("sign", flat=True)),
                   "started_at": session.started_at.isoformat(),
                   "withdrew_at": now.isoformat()})
        subject, body, link = messages.withdrawing(session)
        notify.queue([session.watching_buddy], [Channel.IN_APP, Channel.PUSH, Channel.SMS],
                     subject=subject, body=body, link=link, purpose="withdrawing",
                     organisation_id=session.worker.organisation_id,
                     about=("session", session.pk))
        audit.record("session.withdraw", actor=actor, obj=session,
                     summary=f"{session.worker.full_name} is withdrawing from "
                             f"{session.address[:80]}", after={"due_at": session.due_at})
    return session
