"""What alarm messages to the alarm centre and the security manager say."""

from datetime import datetime

from lonewatch.clock import hhmm
from lonewatch.notify.messages import ago, link


def alarm(alarm, now: datetime, *, again: bool = False) -> tuple[str, str, str]:
    worker = alarm.worker
    where = (f"last located {alarm.lat:.5f}, {alarm.lon:.5f}" if alarm.lat is not None
             else "no location yet")
    prefix = "STILL NOT ACKNOWLEDGED: " if again else ""
    kind = "DURESS" if alarm.source == "duress" else "RED ALERT"
    return (
        f"{prefix}{kind} from {worker.full_name}",
        f"{prefix}{kind} from {worker.full_name}, raised at {hhmm(alarm.raised_at)} "
        f"({ago(now, alarm.raised_at)}); {where}. Acknowledge it on the console now.",
        link("home"),
    )


def incident_recorded(alarm, label: str) -> tuple[str, str, str]:
    return (
        f"Incident recorded: {alarm.worker.full_name}",
        f"A red alert from {alarm.worker.full_name} at {hhmm(alarm.raised_at)} was closed as "
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
