"""The one clock. Every rule asks it for the time, so tests can move it."""

from datetime import datetime

from django.utils import timezone


def now() -> datetime:
    return timezone.now()


def hhmm(moment: datetime) -> str:
    """The time of day in the trust's time zone, as messages and timelines show it.
    (The default zone is looked up once; thousands of messages at once would otherwise
    spend their time asking which zone is current.)"""
    return moment.astimezone(timezone.get_default_timezone()).strftime("%H:%M")
