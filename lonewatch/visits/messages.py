"""What the worker's own reminders say."""

from lonewatch.clock import hhmm
from lonewatch.notify.messages import link


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


def running_late(session, reason: str) -> tuple[str, str, str]:
    """MOV-02: the buddy hears that the worker is running late, and until when."""
    worker = session.worker
    return (
        f"{worker.full_name} is running late",
        f"{worker.full_name} is running late at {session.address} ({reason[:150]}). Their "
        f"next check-in is due at {hhmm(session.due_at)}; you will be told if they miss it.",
        link("buddy"),
    )


def block_during_session(worker, session) -> tuple[str, str, str]:
    """ORG-04: occupational health marked a worker unable to work alone while a session
    of theirs runs."""
    return (
        f"{worker.full_name} must not work alone: a session is running",
        f"Occupational health has just advised that {worker.full_name} must not work "
        f"alone, and they are on a {session.get_kind_display().lower()} at "
        f"{session.address} now. Contact them and arrange for them to stop or be "
        "accompanied.",
        link("session", session.pk),
    )


def fitness_review_due(worker) -> tuple[str, str, str]:
    """ORG-04: the review date of an unable-to-work-alone mark has come."""
    return (
        f"Review due: {worker.full_name} must not work alone",
        f"The review of {worker.full_name}'s advice not to work alone was due on "
        f"{worker.unable_to_work_alone_review:%d %B %Y}. The advice stays until you lift "
        "it: review it and lift it or set a new review date.",
        link("person", worker.pk),
    )


def _when(visit) -> str:
    return f"{visit.planned_start:%a %d %b} at {hhmm(visit.planned_start)}"


def visit_changed(visit, *, cancelled: bool, before=None) -> tuple[str, str, str]:
    """MOV-01: the buddy hears of a planned visit cancelled or moved."""
    worker = visit.worker.full_name
    if cancelled:
        return (f"{worker} cancelled a visit",
                f"{worker} cancelled the visit to {visit.address} planned for "
                f"{_when(visit)}. You no longer need to watch for it.", link("buddy"))
    was = f" (was {before:%a %d %b} at {hhmm(before)})" if before else ""
    return (f"{worker} moved a visit",
            f"{worker}'s visit to {visit.address} is now planned for {_when(visit)}{was}.",
            link("buddy"))


def visit_not_started(visit) -> tuple[str, str, str]:
    """MOV-01: at a planned visit's start, not started, the worker is asked."""
    return ("Your planned visit has not started",
            f"Your visit to {visit.address} was planned to start at "
            f"{hhmm(visit.planned_start)}. Start it, move it or cancel it. If you do not, "
            f"your buddy will be told at {hhmm(visit.no_show_at)}.", link("my_day"))


def no_show(visit) -> tuple[str, str, str]:
    """MOV-01 (000 §13): a planned visit never started: the buddy is told."""
    worker = visit.worker.full_name
    return (f"{worker} has not started a planned visit",
            f"{worker} planned to visit {visit.address} at {hhmm(visit.planned_start)} and "
            "has not started it, moved it or cancelled it. Contact them now; if you cannot "
            "reach them, follow your escalation procedure.", link("buddy"))


def withdrawing(session) -> tuple[str, str, str]:
    """PRE-06: the worker is withdrawing from a visit now."""
    worker = session.worker.full_name
    return (f"{worker} is withdrawing from a visit",
            f"{worker} is withdrawing now from {session.address}. Their next check-in is "
            f"due at {hhmm(session.due_at)}; you will be told at once if they miss it.",
            link("buddy"))
