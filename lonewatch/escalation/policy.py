"""Which steps an escalation follows (ESC-01).

The trust policy's default: remind the worker at the deadline, tell the buddy at
+5 minutes, the line manager at +15, the senior manager at +30, and at +45 advise
calling the police with the locate summary. An organisation may replace it with its
own default (the "trust default" on the pages), and a team may have steps of its own.
"""

from dataclasses import asdict, dataclass

from django.db import transaction

from lonewatch import clock
from lonewatch.core import audit
from lonewatch.escalation.models import EscalationPolicy, EscalationStep, Target
from lonewatch.notify.models import Channel

# How the pages say each channel, after "by".
CHANNEL_WORDS = {Channel.EMAIL: "email", Channel.SMS: "text message", Channel.WEBHOOK: "webhook",
                 Channel.PUSH: "phone notification", Channel.IN_APP: "a message in Lonewatch"}


@dataclass(frozen=True)
class Step:
    after_seconds: int
    target: str
    channels: tuple[str, ...]

    @property
    def channel_labels(self) -> str:
        """The channels as the end of a sentence: "text message, email and a message in
        Lonewatch"."""
        words = [CHANNEL_WORDS[c] for c in self.channels]
        return " and ".join([", ".join(words[:-1]), words[-1]] if len(words) > 1 else words)

    @property
    def when(self) -> str:
        """When it happens, in words: "At the deadline", "After 1 minute", "After 2.5 minutes"."""
        if self.after_seconds == 0:
            return "At the deadline"
        minutes = round(self.after_seconds / 60, 2)
        return f"After {minutes:g} minute{'' if minutes == 1 else 's'}"

    def as_json(self) -> dict:
        return asdict(self) | {"channels": list(self.channels)}


DEFAULT_STEPS = (
    Step(0, Target.WORKER, (Channel.PUSH, Channel.SMS, Channel.IN_APP)),
    Step(5 * 60, Target.BUDDY, (Channel.PUSH, Channel.SMS, Channel.IN_APP)),
    Step(15 * 60, Target.LINE_MANAGER, (Channel.SMS, Channel.EMAIL, Channel.IN_APP)),
    Step(30 * 60, Target.SENIOR_MANAGER, (Channel.SMS, Channel.EMAIL, Channel.IN_APP)),
    Step(45 * 60, Target.POLICE_ADVICE, (Channel.SMS, Channel.EMAIL, Channel.IN_APP)),
)
MAX_STEPS = 20
MAX_AFTER_SECONDS = 7 * 24 * 3600


class PolicyError(ValueError):
    """Steps that cannot be saved. ``step`` (counting from 1) and ``field`` say where, when
    the problem is in one step, so a form can point at it."""

    def __init__(self, message: str, *, step: int | None = None, field: str | None = None):
        super().__init__(message)
        self.step, self.field = step, field


def steps_for(team) -> list[Step]:
    """The team's steps, else the organisation's default, else the trust policy's."""
    if team is None:
        return list(DEFAULT_STEPS)
    return steps_for_team(team.pk, team.directorate.organisation_id)


def steps_for_team(team_id: int | None, organisation_id: int) -> list[Step]:
    """The steps for a worker in this team (or in no team) of this organisation."""
    return in_force(team_id, organisation_id)[0]


# Where the steps a team follows come from.
OWN, ORGANISATION_DEFAULT, BUILT_IN = "team", "organisation_default", "built_in"


def in_force(team_id: int | None, organisation_id: int) -> tuple[list[Step], str]:
    """The steps a new escalation would follow, and whose they are (OWN, ORGANISATION_DEFAULT
    or BUILT_IN)."""
    policy, source = None, OWN
    if team_id is not None:
        policy = EscalationPolicy.objects.filter(team_id=team_id).first()
    if policy is None:
        policy, source = default_policy(organisation_id), ORGANISATION_DEFAULT
    if policy is None:
        return list(DEFAULT_STEPS), BUILT_IN
    return _steps_of(policy), source


def default_policy(organisation_id: int) -> EscalationPolicy | None:
    """The organisation's default, which every team without its own policy follows."""
    return EscalationPolicy.objects.filter(organisation_id=organisation_id,
                                           team__isnull=True).first()


def default_steps(organisation_id: int) -> list[Step]:
    """The organisation's default steps, or the trust policy's while it has set none."""
    return in_force(None, organisation_id)[0]


def _steps_of(policy: EscalationPolicy) -> list[Step]:
    return [Step(s.after_seconds, s.target, tuple(s.channels)) for s in policy.steps.all()]


def check_step_count(raw_steps: list) -> None:
    """One step at least, MAX_STEPS at most (the API states the same bounds)."""
    if not raw_steps:
        raise PolicyError("a policy needs at least one step")
    if len(raw_steps) > MAX_STEPS:
        raise PolicyError(f"a policy can have at most {MAX_STEPS} steps")


def validate(raw_steps: list[dict]) -> list[Step]:
    """Check steps a person wrote; explain the first problem in plain words."""
    check_step_count(raw_steps)
    steps, previous = [], -1
    for number, raw in enumerate(raw_steps, start=1):
        after = raw.get("after_seconds")
        target = raw.get("notify", raw.get("target"))
        channels = raw.get("channels") or []
        if not isinstance(after, int) or isinstance(after, bool) or not (
                0 <= after <= MAX_AFTER_SECONDS):
            raise PolicyError(f"step {number}: after_seconds must be a whole number of seconds "
                              f"from 0 to {MAX_AFTER_SECONDS}", step=number,
                              field="after_seconds")
        if after < previous:
            raise PolicyError(f"step {number}: steps must be in order of after_seconds",
                              step=number, field="order")
        if target not in Target.values:
            raise PolicyError(f"step {number}: notify must be one of {', '.join(Target.values)}",
                              step=number, field="notify")
        if not channels or any(c not in Channel.values for c in channels):
            raise PolicyError(f"step {number}: channels must be a non-empty list of "
                              f"{', '.join(Channel.values)}", step=number, field="channels")
        steps.append(Step(after, target, tuple(dict.fromkeys(channels))))
        previous = after
    return steps


def do_set_policy(team, raw_steps: list[dict], *, actor) -> list[Step]:
    """Give the team its own steps, in place of the organisation's default (ESC-01)."""
    return _replace_steps(
        raw_steps, organisation_id=team.directorate.organisation_id, team=team, actor=actor,
        action="escalation_policy.update", obj=team,
        summary=f"Escalation policy of {team} changed")


def do_set_default_policy(organisation, raw_steps: list[dict], *, actor) -> list[Step]:
    """Change the organisation's default: the steps of every team without its own (ESC-01)."""
    return _replace_steps(
        raw_steps, organisation_id=organisation.pk, team=None, actor=actor,
        action="escalation_policy.default.update", obj=organisation,
        summary=f"Default escalation policy of {organisation} changed")


def do_clear_team_policy(team, *, actor) -> bool:
    """The team follows its organisation's default again; False if it already did."""
    organisation_id = team.directorate.organisation_id
    with transaction.atomic():
        policy = EscalationPolicy.objects.select_for_update().filter(team=team).first()
        if policy is None:
            return False
        before = _steps_of(policy)
        policy.delete()
        after, source = in_force(None, organisation_id)
        audit.record("escalation_policy.delete", actor=actor, obj=team,
                     summary=f"{team} follows the organisation's default escalation policy "
                             "again",
                     before={"steps": _as_json(before), "follows": OWN},
                     after={"steps": _as_json(after), "follows": source})
    return True


def _replace_steps(raw_steps, *, organisation_id: int, team, actor, action: str, obj,
                   summary: str) -> list[Step]:
    """Validate, replace the policy's steps and audit before and after, in one transaction.

    ``team=None`` is the organisation's default. Escalations already running keep the
    steps they copied when they started (ESC-03), so nothing here touches them.
    """
    steps = validate(raw_steps)
    now = clock.now()
    with transaction.atomic():
        before, source = in_force(team.pk if team else None, organisation_id)
        policy, _ = EscalationPolicy.objects.get_or_create(
            organisation_id=organisation_id, team=team, defaults={"updated_at": now})
        # Locked, so two people saving at once replace the steps one after the other.
        policy = EscalationPolicy.objects.select_for_update().get(pk=policy.pk)
        policy.updated_at = now
        policy.save(update_fields=["updated_at"])
        policy.steps.all().delete()
        EscalationStep.objects.bulk_create(
            EscalationStep(policy=policy, position=i, after_seconds=s.after_seconds,
                           target=s.target, channels=list(s.channels))
            for i, s in enumerate(steps))
        audit.record(action, actor=actor, obj=obj, summary=summary,
                     before={"steps": _as_json(before), "follows": source},
                     after={"steps": _as_json(steps),
                            "follows": OWN if team else ORGANISATION_DEFAULT})
    return steps


def _as_json(steps) -> list[dict]:
    return [s.as_json() for s in steps]
