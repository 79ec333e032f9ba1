"""The check-in hot path on PostgreSQL: one SQL statement, one commit.

A check-in is the request Lonewatch answers most: every worker, every few
minutes. Written with the ORM it costs seven round trips to the database; here the
bearer token, the session's new deadline and the timeline row are one statement
(data-modifying CTEs), which is what lets one modest server take a region's
check-ins (Q-PERF). It covers only the plain case: the token is valid, the session
is the caller's own and is active. Anything else (an overdue session, a bad or expired token,
someone else's session) returns None and the caller takes the ordinary path, which
gives the right answer and message.
"""

import hashlib

from django.conf import settings
from django.db import IntegrityError, connection

from lonewatch import clock
from lonewatch.visits import timeline
from lonewatch.visits.actions import ACCURACY_M, LATITUDE, LONGITUDE

SQL = """
WITH token AS (
    UPDATE accounts_apitoken AS t SET last_used_at = %(now)s
    FROM accounts_user AS u
    WHERE t.digest = %(digest)s AND t.revoked_at IS NULL
        AND (t.expires_at IS NULL OR t.expires_at > %(now)s)
        AND u.id = t.user_id AND u.is_active
    RETURNING t.user_id
), moved AS (
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
""" + timeline.CHECK_IN_SQL  # noqa: S608 - constants only; the line is chained (ORG-05)


def check_in(raw_token: str, session_id: int, *, lat, lon, accuracy_m, note: str):
    """The new deadline, or None when the ordinary path must decide."""
    if connection.vendor != "postgresql":
        return None
    if (lat is None) != (lon is None):
        return None
    if not (LATITUDE.allows(lat) and LONGITUDE.allows(lon) and ACCURACY_M.allows(accuracy_m)):
        return None
    summary = "Checked in" + (f": {note[:200]}" if note else "")
    now = clock.now()
    params = {
        "now": now, "digest": hashlib.sha256(raw_token.encode()).hexdigest(),
        "lead": settings.REMINDER_LEAD_SECONDS, "session": session_id,
        "lat": lat if lon is not None else None, "lon": lon, "accuracy": accuracy_m,
        "summary": summary, **timeline.check_in_fields(session_id, now, summary),
    }
    # Another writer's line of the same session, committed after this statement's snapshot
    # was taken, makes it fail whole (ORG-05: one line per place in the chain); tried
    # again, it sees that line. Outside a transaction, as the fast lane and the API call
    # it; inside one, the failure is the caller's.
    for _attempt in range(2):
        try:
            with connection.cursor() as cursor:
                cursor.execute(SQL, params)
                row = cursor.fetchone()
            return row[0] if row else None
        except IntegrityError:
            if connection.in_atomic_block:
                raise
    return None
