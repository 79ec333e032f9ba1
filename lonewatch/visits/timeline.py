"""A session's timeline: every line of it is written here (ORG-05, MOV-05).

Each session's timeline is a hash chain of its own (``lonewatch.core.timeline``): a
line is appended under the session's row lock, after the session's last line. The
PostgreSQL check-in statement (``actions.CHECK_IN_SQL``) appends its line with
``CHECK_IN_SQL``, which computes the same chain in SQL. Where the worker was goes in a
``SessionPosition`` beside the line, never in it, so that deleting positions when the
session ends (``purge_positions``) leaves the chain whole.
"""

from datetime import datetime

from lonewatch.core.timeline import GENESIS, Timeline, at_text, netstring, sql_netstring
from lonewatch.visits.models import Session, SessionEvent, SessionPosition

TIMELINE = Timeline("session", SessionEvent, "session", positions=SessionPosition)
Kind = SessionEvent.Kind


def append(session: Session | int, *, kind: str, summary: str, at: datetime, actor=None,
           data: dict | None = None, here=None) -> SessionEvent:
    """One line on the session's timeline, with where the worker was (``here``), if known
    and consented to. Runs inside the caller's transaction and locks the session."""
    session_id = session if isinstance(session, int) else session.pk
    return TIMELINE.append(session_id, kind=kind, summary=summary[:300], at=at, actor=actor,
                           data=data or {}, here=here)


def append_rows(rows: list[dict], *, copy: bool = False, locked: bool = False) -> None:
    """Many lines for many sessions (dicts of column values with ``session_id``), in list
    order within each session; see ``Timeline.append_rows``. Lines written this way
    carry no position."""
    TIMELINE.append_rows(rows, copy=copy, locked=locked)


def purge_positions(session: Session, *, at: datetime, actor=None, why: str) -> int:
    """MOV-05: delete every position kept for the session, and say so on its timeline:
    which lines lost their location, when and why. Runs inside the caller's transaction
    (the session is locked). Returns how many positions were deleted."""
    kept = SessionPosition.objects.filter(event__session=session)
    lines = list(kept.order_by("event__seq").values_list("event__seq", flat=True))
    if not lines:
        return 0
    kept.delete()
    count = len(lines)
    append(session, kind=Kind.POSITIONS_PURGED, at=at, actor=actor,
           summary=f"{count} location{'s' if count != 1 else ''} deleted: {why}",
           data={"positions": count, "lines": lines, "why": why})
    return count


# The check-in statement's line (``actions.CHECK_IN_SQL``). It follows the statement's ``moved`` CTE
# (the session's id, new ``due_at``, ``consent`` and the token's ``user_id``), which has
# locked the session, and takes %(session)s, %(now)s, %(summary)s, %(lat)s, %(lon)s,
# %(accuracy)s and the fields of the line's canonical form known before it runs
# (``check_in_fields``). The last line is read from the statement's snapshot: should
# another line of the session have committed after it was taken, the insert breaks the
# (session, seq) unique constraint, and the statement is tried again (or the ordinary
# path takes over).
DUE_AT_TEXT = ("to_char(m.due_at AT TIME ZONE 'UTC', "
               "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"')")
CHECK_IN_SQL = f"""
, head AS (
    SELECT seq, hash FROM visits_sessionevent WHERE session_id = %(session)s
    ORDER BY seq DESC LIMIT 1
), line AS (
    SELECT m.id, m.user_id, m.consent, m.due_at, coalesce(h.seq, 0) + 1 AS seq,
           coalesce(h.hash, '{GENESIS}') AS prev_hash,
           '{{"due_at":"' || {DUE_AT_TEXT} || '"}}' AS data
    FROM moved AS m LEFT JOIN head AS h ON true
), written AS (
    INSERT INTO visits_sessionevent (session_id, seq, at, kind, actor_id, summary, data,
                                     prev_hash, hash)
    SELECT id, seq, %(now)s, 'checked_in', user_id, %(summary)s::text, data::jsonb, prev_hash,
           encode(sha256(convert_to(
               %(record_field)s::text || {sql_netstring("seq::text")} || %(when_field)s::text
               || {sql_netstring("coalesce(user_id::text, '')")} || %(summary_field)s::text
               || {sql_netstring("data")} || '64:' || prev_hash, 'UTF8')), 'hex')
    FROM line
    RETURNING id
), placed AS (
    INSERT INTO visits_sessionposition (event_id, lat, lon, accuracy_m)
    SELECT w.id, %(lat)s::float8, %(lon)s::float8, %(accuracy)s::float8
    FROM written AS w, line AS l WHERE l.consent AND %(lat)s::float8 IS NOT NULL
)
SELECT l.id, l.due_at FROM line AS l, written
"""  # noqa: S608 - constants only


def check_in_fields(session_id: int, at: datetime, summary: str) -> dict:
    """The parameters of ``CHECK_IN_SQL`` for the parts of the line's canonical form
    (``line_hash``) that are known before the statement runs."""
    return {"record_field": netstring(TIMELINE.name) + netstring(str(session_id)),
            "when_field": netstring(at_text(at)) + netstring(Kind.CHECKED_IN),
            "summary_field": netstring(summary)}
