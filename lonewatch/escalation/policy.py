"""Which steps an escalation follows (ESC-01).

The trust policy's default: remind the worker at the deadline, tell the buddy at
+5 minutes, the line manager at +15, the senior manager at +30, and at +45 advise
calling the police with the locate summary. A team may replace it with its own.
"""

from dataclasses import asdict, dataclass

from django.db import transaction

from lonewatch import clock
from lonewatch.core import audit
from lonewatch.escalation.models import Channel, EscalationPolicy, EscalationStep, Target


@dataclass(frozen=True)
class Step:
    after_seconds: int
    target: str
    channels: tuple[str, ...]

    @property
    def channel_labels(self) -> str:
        return ", ".join(Channel(c).label.lower() for c in self.channels)

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
    pass


def steps_for(team) -> list[Step]:
    """The team's steps, else the organisation's default, else the trust policy's."""
    if team is None:
        return list(DEFAULT_STEPS)
    return steps_for_team(team.pk, team.directorate.organisation_id)


def steps_for_team(team_id: int | None, organisation_id: int) -> list[Step]:
    """The steps for a worker in this team (or in no team) of this organisation."""
    policy = None
    if team_id is not None:
        policy = EscalationPolicy.objects.filter(team_id=team_id).first()
    if policy is None:
        policy = EscalationPolicy.objects.filter(organisation_id=organisation_id,
                                                 team__isnull=True).first()
    if policy is None:
        return list(DEFAULT_STEPS)
    return [Step(s.after_seconds, s.target, tuple(s.channels)) for s in policy.steps.all()]


def validate(raw_steps: list[dict]) -> list[Step]:
    """Check steps a person wrote; explain the first problem in plain words."""
    if not raw_steps:
        raise PolicyError("a policy needs at least one step")
    if len(raw_steps) > MAX_STEPS:
        raise PolicyError(f"a policy can have at most {MAX_STEPS} steps")
    steps, previous = [], -1
    for number, raw in enumerate(raw_steps, start=1):
        after = raw.get("after_seconds")
        target = raw.get("notify", raw.get("target"))
        channels = raw.get("channels") or []
        if not isinstance(after, int) or isinstance(after, bool) or not (
                0 <= after <= MAX_AFTER_SECONDS):
            raise PolicyError(f"step {number}: after_seconds must be a whole number of seconds "
                              f"from 0 to {MAX_AFTER_SECONDS}")
        if after < previous:
            raise PolicyError(f"step {number}: steps must be in order of after_seconds")
        if target not in Target.values:
            raise PolicyError(f"step {number}: notify must be one of {', '.join(Target.values)}")
        if not channels or any(c not in Channel.values for c in channels):
            raise PolicyError(f"step {number}: channels must be a non-empty list of "
                              f"{', '.join(Channel.values)}")
        steps.append(Step(after, target, tuple(dict.fromkeys(channels))))
        previous = after
    return steps


def do_set_policy(team, raw_steps: list[dict], *, actor) -> list[Step]:
    steps = validate(raw_steps)
    before = [s.as_json() for s in steps_for(team)]
    with transaction.atomic():
        policy, _ = EscalationPolicy.objects.get_or_create(
            team=team, defaults={"organisation_id": team.directorate.organisation_id,
                                 "updated_at": clock.now()})
        policy.updated_at = clock.now()
        policy.save(update_fields=["updated_at"])
        policy.steps.all().delete()
        EscalationStep.objects.bulk_create(
            EscalationStep(policy=policy, position=i, after_seconds=s.after_seconds,
                           target=s.target, channels=list(s.channels))
            for i, s in enumerate(steps))
        audit.record("escalation_policy.update", actor=actor, obj=team,
                     summary=f"Escalation policy of {team} changed",
                     before={"steps": before}, after={"steps": [s.as_json() for s in steps]})
    return steps
