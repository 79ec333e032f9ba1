"""What escalation messages say: who missed what, where, since when, and the link to act."""

from datetime import datetime

from lonewatch.clock import hhmm
from lonewatch.escalation.models import Target
from lonewatch.notify.messages import ago, link


def escalation_step(session, escalation, target: str, now: datetime) -> tuple[str, str, str]:
    """Subject, body and link for one escalation step."""
    worker = session.worker
    where = session.address + (f", {session.postcode}" if session.postcode else "")
    if target == Target.WORKER:
        return (
            "Check in now",
            f"You missed your check-in due at {hhmm(escalation.missed_at)} at {where}. "
            "Check in now if you are safe. If you do not, the people who look after your "
            "safety will be told.",
            link("my_day"),
        )
    missed = f"missed the check-in due at {hhmm(escalation.missed_at)} " \
             f"({ago(now, escalation.missed_at)})"
    contact = f"Last contact {hhmm(session.last_contact_at)}."
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


def handled(session, escalation, actor_name: str) -> tuple[str, str, str]:
    return (
        f"{actor_name} is handling {session.worker.full_name}'s missed check-in",
        f"{actor_name} has said they are handling the missed check-in of "
        f"{session.worker.full_name}. You do not need to act unless they ask.",
        link("escalation", escalation.pk),
    )


def resolved(session, escalation, actor_name: str, outcome: str) -> tuple[str, str, str]:
    return (
        f"{session.worker.full_name}'s missed check-in is closed: {outcome}",
        f"{actor_name} recorded the outcome of {session.worker.full_name}'s missed check-in "
        f"at {hhmm(escalation.resolved_at)}: {outcome}. Nothing more is needed from you.",
        link("escalation", escalation.pk),
    )


def still_handling(session, escalation, handler: str, now: datetime) -> tuple[str, str, str]:
    return (
        f"Still open: {session.worker.full_name}'s missed check-in",
        f"{handler} said they were handling {session.worker.full_name}'s missed check-in "
        f"{ago(now, escalation.acknowledged_at)}, and nobody has recorded that they are "
        "safe. Record what happened, or act now: "
        f"{link('escalation', escalation.pk)}",
        link("escalation", escalation.pk),
    )
