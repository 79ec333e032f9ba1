"""What messages say: who, where, since when, what to do, and the link to act."""

from datetime import datetime
from functools import lru_cache

from django.conf import settings
from django.urls import reverse

from lonewatch import clock
from lonewatch.escalation.models import Target


def _time(moment: datetime) -> str:
    return clock.hhmm(moment)


def _ago(now: datetime, moment: datetime) -> str:
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


def escalation_step(session, escalation, target: str, now: datetime) -> tuple[str, str, str]:
    """Subject, body and link for one escalation step."""
    worker = session.worker
    where = session.address + (f", {session.postcode}" if session.postcode else "")
    if target == Target.WORKER:
        return (
            "Check in now",
            f"You missed your check-in due at {_time(escalation.missed_at)} at {where}. "
            "Check in now if you are safe. If you do not, the people who look after your "
            "safety will be told.",
            link("my_day"),
        )
    missed = f"missed the check-in due at {_time(escalation.missed_at)} " \
             f"({_ago(now, escalation.missed_at)})"
    contact = f"Last contact {_time(session.last_contact_at)}."
    phone = f" Call them on {worker.mobile}." if worker.mobile else ""
    act = link("escalation", escalation.pk)
    if target == Target.POLICE_ADVICE:
        return (
            f"URGENT: consider calling the police about {worker.full_name}",
            f"{worker.full_name} {missed} at {where} and nobody has confirmed they are safe. "
            f"{contact} If you still cannot reach them, call 999 and give the police the "
            f"locate summary: {link('locate_summary', session.pk)}",
            act,
        )
    who = {Target.BUDDY: "You are their buddy.", Target.ALARM_CENTRE: "Alarm centre: act now."}
    return (
        f"{worker.full_name} missed a check-in",
        f"{worker.full_name} {missed} at {where}. {contact}{phone} "
        f"{who.get(target, 'You are an escalation point.')} Try to reach them, then say "
        f"'I am handling this' or record that they are safe: {act}",
        act,
    )


def reminder(session, *, end: bool = False) -> tuple[str, str, str]:
    if end:
        return (
            "Your visit should have ended",
            f"Your {session.get_kind_display().lower()} at {session.address} was planned to end "
            f"at {_time(session.planned_end)}. Check out when you leave, or say you are "
            "running late.",
            link("my_day"),
        )
    return (
        "Check-in due soon",
        f"Your next check-in is due at {_time(session.due_at)}. Check in or say you are "
        "running late.",
        link("my_day"),
    )


def handled(session, escalation, actor_name: str) -> tuple[str, str, str]:
    return (
        f"{actor_name} is handling {session.worker.full_name}'s missed check-in",
        f"{actor_name} has said they are handling the missed check-in of "
        f"{session.worker.full_name}. You do not need to act unless they ask.",
        link("escalation", escalation.pk),
    )


def channel_test(person) -> tuple[str, str]:
    return (
        "Lonewatch test message",
        f"Hello {person.full_name}. This is a test from Lonewatch. If it reached you, "
        "open the link to confirm, so your team knows alerts will reach you too.",
    )


def resolved(session, escalation, actor_name: str, outcome: str) -> tuple[str, str, str]:
    return (
        f"{session.worker.full_name}'s missed check-in is closed: {outcome}",
        f"{actor_name} recorded the outcome of {session.worker.full_name}'s missed check-in "
        f"at {_time(escalation.resolved_at)}: {outcome}. Nothing more is needed from you.",
        link("escalation", escalation.pk),
    )


def still_handling(session, escalation, handler: str, now: datetime) -> tuple[str, str, str]:
    return (
        f"Still open: {session.worker.full_name}'s missed check-in",
        f"{handler} said they were handling {session.worker.full_name}'s missed check-in "
        f"{_ago(now, escalation.acknowledged_at)}, and nobody has recorded that they are "
        "safe. Record what happened, or act now: "
        f"{link('escalation', escalation.pk)}",
        link("escalation", escalation.pk),
    )


def alarm(alarm, now: datetime, *, again: bool = False) -> tuple[str, str, str]:
    worker = alarm.worker
    where = (f"last located {alarm.lat:.5f}, {alarm.lon:.5f}" if alarm.lat is not None
             else "no location yet")
    prefix = "STILL NOT ACKNOWLEDGED: " if again else ""
    kind = "DURESS" if alarm.source == "duress" else "RED ALERT"
    return (
        f"{prefix}{kind} from {worker.full_name}",
        f"{prefix}{kind} from {worker.full_name}, raised at {_time(alarm.raised_at)} "
        f"({_ago(now, alarm.raised_at)}); {where}. Acknowledge it on the console now.",
        link("home"),
    )


def incident_recorded(alarm, label: str) -> tuple[str, str, str]:
    return (
        f"Incident recorded: {alarm.worker.full_name}",
        f"A red alert from {alarm.worker.full_name} at {_time(alarm.raised_at)} was closed as "
        f"{label.lower()}. Review it and any recording.",
        link("home"),
    )


def duress_suspected(alarm) -> tuple[str, str, str]:
    return (
        f"Possible duress: {alarm.worker.full_name}",
        f"An operator believes {alarm.worker.full_name} closed or cancelled an alarm under "
        "duress. Review it and re-categorise it if needed, before any recording is deleted.",
        link("home"),
    )
