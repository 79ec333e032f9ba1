"""The hooks of the notify layer: every effect of a delivery on a higher app.

notify knows people and channels. What a message is about (an escalation, an alarm,
a session) is a plain reference on the delivery; the app that owns that kind shows
the outcome on its record's timeline by connecting a handler here from its
``AppConfig.ready()``.
"""

from dataclasses import dataclass, field
from datetime import datetime

from lonewatch.core.hooks import Hook


@dataclass(frozen=True)
class Outcome:
    """What became of one delivery, for the timeline of what it is about."""

    about_kind: str
    about_id: int
    at: datetime
    failed: bool
    summary: str
    recipient_id: int | None
    data: dict = field(default_factory=dict)


delivery_outcomes = Hook("delivery outcomes", doc="""
Called with ``(outcomes: list[Outcome], *, bulk: bool)`` inside the transaction that
records them: a message stored in Lonewatch, sent, delivered, or failed. A handler
writes the lines for the kinds it owns and ignores the rest; ``bulk`` asks for
COPY-speed inserts (a burst of missed deadlines).""")
