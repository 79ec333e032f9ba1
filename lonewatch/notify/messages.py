"""What messages say, the parts every app's messages share: "how long ago" and absolute
links (times of day are ``clock.hhmm``). Each app words its own messages in its
``messages.py``."""

from datetime import datetime
from functools import lru_cache

from django.conf import settings
from django.urls import reverse


def ago(now: datetime, moment: datetime) -> str:
    minutes = max(0, int((now - moment).total_seconds() // 60))
    return "just now" if minutes == 0 else f"{minutes} min ago"


SAMPLE_ID = 987654321


@lru_cache(maxsize=64)
def _path(name: str, with_id: bool) -> str:
    return reverse(name, args=[SAMPLE_ID] if with_id else [])


def link(name: str, *args) -> str:
    """An absolute link. URL reversal is cached per name: escalating thousands of
    missed deadlines at once would otherwise spend its time here."""
    if not args:
        path = _path(name, False)
    elif len(args) == 1 and isinstance(args[0], int):
        path = _path(name, True).replace(str(SAMPLE_ID), str(args[0]))
    else:
        path = reverse(name, args=args)
    return settings.BASE_URL.rstrip("/") + path






def channel_test(person) -> tuple[str, str]:
    return (
        "Lonewatch test message",
        f"Hello {person.full_name}. This is a test from Lonewatch. If it reached you, "
        "open the link to confirm, so your team knows alerts will reach you too.",
    )
