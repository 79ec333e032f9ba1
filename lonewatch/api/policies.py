"""Escalation policies over the JSON API: a team's steps and the trust default (ESC-01)."""

from typing import Annotated

from ninja import Router, Schema, Status
from ninja.errors import HttpError
from pydantic import BeforeValidator, Field

from lonewatch.api.schemas import one_of, refusals
from lonewatch.core import permissions as perms
from lonewatch.escalation import policy
from lonewatch.escalation.access import access_default_policy, access_team_policy
from lonewatch.escalation.models import Target
from lonewatch.notify.models import Channel

router = Router()


class StepIO(Schema):
    after_seconds: int = Field(ge=0, le=policy.MAX_AFTER_SECONDS,
                               description="After the missed deadline; steps in this order")
    notify: one_of(Target)
    channels: list[one_of(Channel)] = Field(min_length=1)


def _step_count(value):
    if isinstance(value, list):
        policy.check_step_count(value)
    return value


class PolicyIO(Schema):
    steps: Annotated[list[StepIO], Field(min_length=1, max_length=policy.MAX_STEPS),
                     BeforeValidator(_step_count)]


def _policy_out(steps) -> dict:
    return {"steps": [{"after_seconds": s.after_seconds, "notify": s.target,
                       "channels": list(s.channels)} for s in steps]}


@router.get("/teams/{team_id}/escalation-policy",
            response={200: PolicyIO, **refusals(400, 403, 404)}, tags=["teams"],
            summary="The steps a new escalation in this team follows (ESC-01)")
def get_policy(request, team_id: int):
    team = access_team_policy(request.user, team_id)
    return _policy_out(policy.steps_for(team))


@router.put("/teams/{team_id}/escalation-policy",
            response={200: PolicyIO, **refusals(400, 403, 404)}, tags=["teams"],
            summary="Replace the team's escalation steps (ESC-01)")
def put_policy(request, team_id: int, payload: PolicyIO):
    team = access_team_policy(request.user, team_id, action=perms.CHANGE)
    try:
        policy.do_set_policy(team, [s.dict() for s in payload.steps], actor=request.user)
    except policy.PolicyError as error:
        raise HttpError(400, f"The policy is not valid: {error}") from None
    return _policy_out(policy.steps_for(team))


@router.delete("/teams/{team_id}/escalation-policy",
               response={204: None, **refusals(400, 403, 404)}, tags=["teams"],
               summary="The team follows the trust default again (ESC-01)")
def delete_policy(request, team_id: int):
    team = access_team_policy(request.user, team_id, action=perms.CHANGE)
    policy.do_clear_team_policy(team, actor=request.user)
    return Status(204, None)


@router.get("/escalation-policy", response={200: PolicyIO, **refusals(403)}, tags=["teams"],
            summary="The trust default: the steps of every team without its own (ESC-01)")
def get_default_policy(request):
    organisation = access_default_policy(request.user)
    return _policy_out(policy.default_steps(organisation.pk))


@router.put("/escalation-policy", response={200: PolicyIO, **refusals(400, 403)},
            tags=["teams"], summary="Replace the trust default escalation steps (ESC-01)")
def put_default_policy(request, payload: PolicyIO):
    organisation = access_default_policy(request.user, action=perms.CHANGE)
    try:
        steps = policy.do_set_default_policy(organisation, [s.dict() for s in payload.steps],
                                             actor=request.user)
    except policy.PolicyError as error:
        raise HttpError(400, f"The policy is not valid: {error}") from None
    return _policy_out(steps)
