"""An alarm's timeline: every line of it is written here (ORG-05, ALM-03).

Each alarm's timeline is a hash chain of its own (``lonewatch.core.timeline``),
appended under the alarm's row lock. A location sent with a line (the phone's trail
during a red alert) is an ``AlarmPosition`` beside the line, outside the chain. The
line's id is its id on the alarm event stream (``lonewatch/alarms/hub.py``).
"""

from datetime import datetime

from lonewatch.alarms.models import Alarm, AlarmEvent, AlarmPosition
from lonewatch.core.timeline import Timeline

TIMELINE = Timeline("alarm", AlarmEvent, "alarm", positions=AlarmPosition)


def append(alarm: Alarm, *, kind: str, summary: str, at: datetime, actor=None,
           data: dict | None = None, here=None) -> AlarmEvent:
    """One line on the alarm's timeline, with where the worker's phone was (``here``), if
    given. Runs inside the caller's transaction and locks the alarm."""
    return TIMELINE.append(alarm.pk, kind=kind, summary=summary[:300], at=at, actor=actor,
                           data=data or {}, here=here)


def append_rows(rows: list[dict]) -> None:
    """Many lines for many alarms (dicts of column values with ``alarm_id``), in list order
    within each alarm; each alarm is locked first."""
    TIMELINE.append_rows(rows)
