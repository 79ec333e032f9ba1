"""The one clock. Every rule asks it for the time, so tests can move it."""

from datetime import datetime

from django.utils import timezone


def now() -> datetime:
    return timezone.now()
