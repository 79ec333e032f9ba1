"""How long each recording is kept (REC-01): the rule that applies and the day it ends.

The periods are configuration (``LONEWATCH_RETAIN_*``, docs/retention.md), defaulting
to the trust's policy:

- an amber alert's voice memo and trail: 3 months from when it was logged;
- an amber alert linked to a genuine red alert of the same worker on the same day:
  12 months;
- a genuine red alert (closed as genuine or genuine-closed-safely): 12 months from
  when it was raised;
- a false alarm: 24 hours from when it was closed, unless the operator flagged
  possible duress (ALM-05): then it is kept until the security manager's review is
  recorded, and 24 hours after that if it is still a false alarm;
- a drill: as a false alarm;
- a red alert still open: kept while it is handled.

``decide`` is the one place the rules live: the worker's destruction, the commands
(``lonewatch retention --dry-run`` and ``--explain``) and the pages all ask it.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.utils import timezone

from lonewatch.alarms.models import Alarm
from lonewatch.recordings.models import Recording

Rule = Recording.Rule
GENUINE = (Alarm.Category.GENUINE, Alarm.Category.GENUINE_SAFE)


@dataclass(frozen=True)
class Decision:
    rule: str
    delete_after: datetime | None
    why: str  # in plain English, for --explain and the case page


def decide(alarm: Alarm, *, review_pending: bool = False) -> Decision:
    """The rule for the evidence kept with ``alarm``, and when it is destroyed.
    ``review_pending``: a security manager's review of this alarm is still open."""
    if alarm.kind == Alarm.Kind.AMBER:
        red = linked_red(alarm)
        if red is not None:
            months = settings.RETAIN_LINKED_AMBER_MONTHS
            return Decision(Rule.AMBER_LINKED, alarm.raised_at + relativedelta(months=months),
                            f"An amber alert linked to the genuine red alert #{red.pk} of the "
                            f"same worker on {_day(alarm.raised_at)}: kept {_months(months)} "
                            f"from when it was logged ({_when(alarm.raised_at)}).")
        months = settings.RETAIN_AMBER_MONTHS
        return Decision(Rule.AMBER, alarm.raised_at + relativedelta(months=months),
                        f"An amber alert: kept {_months(months)} from when it was logged "
                        f"({_when(alarm.raised_at)}).")
    if alarm.state != Alarm.State.CLOSED:
        return Decision(Rule.OPEN, None, "The alarm is still open: its recording is kept "
                                         "while the alarm centre handles it.")
    hours = settings.RETAIN_FALSE_ALARM_HOURS
    if alarm.drill:
        return Decision(Rule.DRILL, alarm.closed_at + timedelta(hours=hours),
                        f"A drill: destroyed {hours} hours after it was closed "
                        f"({_when(alarm.closed_at)}), as a false alarm is.")
    if alarm.category in GENUINE:
        months = settings.RETAIN_GENUINE_MONTHS
        return Decision(Rule.GENUINE, alarm.raised_at + relativedelta(months=months),
                        f"A genuine red alert ({alarm.get_category_display().lower()}): kept "
                        f"{_months(months)} from when it was raised "
                        f"({_when(alarm.raised_at)}).")
    if review_pending:
        return Decision(Rule.AWAITING_REVIEW, None,
                        "A false alarm the operator flagged as possible duress: kept until "
                        "the security manager's review is recorded (ALM-05).")
    return Decision(Rule.FALSE_ALARM, alarm.closed_at + timedelta(hours=hours),
                    f"A false alarm: destroyed {hours} hours after it was closed "
                    f"({_when(alarm.closed_at)}).")


def linked_red(amber: Alarm) -> Alarm | None:
    """The genuine red alert of the same worker on the same local day as ``amber``, if
    any (REC-01: the amber is then kept as long as the red)."""
    day = timezone.localdate(amber.raised_at)
    start = timezone.make_aware(datetime.combine(day, datetime.min.time()))
    return Alarm.objects.filter(
        worker_id=amber.worker_id, kind=Alarm.Kind.RED, drill=False, category__in=GENUINE,
        raised_at__gte=start, raised_at__lt=start + timedelta(days=1)).order_by("pk").first()


def ambers_linked_to(red: Alarm) -> list[int]:
    """The amber alerts of the red alert's worker on its day: their rule may change when
    the red's category does."""
    day = timezone.localdate(red.raised_at)
    start = timezone.make_aware(datetime.combine(day, datetime.min.time()))
    return list(Alarm.objects.filter(
        worker_id=red.worker_id, kind=Alarm.Kind.AMBER, raised_at__gte=start,
        raised_at__lt=start + timedelta(days=1)).values_list("pk", flat=True))


def _months(months: int) -> str:
    return f"{months} month{'s' if months != 1 else ''}"


def _day(moment: datetime) -> str:
    return timezone.localtime(moment).strftime("%-d %B %Y")


def _when(moment: datetime) -> str:
    return timezone.localtime(moment).strftime("%-d %B %Y %H:%M")


def periods() -> list[tuple[str, str]]:
    """The retention periods in force, as configured (for pages and commands)."""
    from_settings = [
        (Rule.AMBER, f"{_months(settings.RETAIN_AMBER_MONTHS)} after it was logged"),
        (Rule.AMBER_LINKED, f"{_months(settings.RETAIN_LINKED_AMBER_MONTHS)} after it was "
                            "logged"),
        (Rule.GENUINE, f"{_months(settings.RETAIN_GENUINE_MONTHS)} after it was raised"),
        (Rule.FALSE_ALARM, f"{settings.RETAIN_FALSE_ALARM_HOURS} hours after it was closed"),
        (Rule.DRILL, f"{settings.RETAIN_FALSE_ALARM_HOURS} hours after it was closed"),
    ]
    return [(Rule(rule).label, period) for rule, period in from_settings] + [
        ("False alarm flagged as possible duress", "until the security manager's review is "
                                                   "recorded"),
        ("Red alert still open", "while the alarm centre handles it")]
