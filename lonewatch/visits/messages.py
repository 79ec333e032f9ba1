"""What the worker's own reminders say."""

from lonewatch.notify.messages import hhmm, link


def reminder(session, *, end: bool = False) -> tuple[str, str, str]:
    if end:
        return (
            "Your visit should have ended",
            f"Your {session.get_kind_display().lower()} at {session.address} was planned to end "
            f"at {hhmm(session.planned_end)}. Check out when you leave, or say you are "
            "running late.",
            link("my_day"),
        )
    return (
        "Check-in due soon",
        f"Your next check-in is due at {hhmm(session.due_at)}. Check in or say you are "
        "running late.",
        link("my_day"),
    )
