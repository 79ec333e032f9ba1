"""Lone-working governance over the JSON API: a team's activities and their review, the
themes and controls, the risk register, out-of-cycle reviews and external security
provision (RSK-01 … RSK-03, RSK-06, RSK-07)."""

from datetime import date, datetime
from typing import Literal

from ninja import Router, Schema, Status
from ninja.errors import HttpError
from pydantic import Field

from lonewatch.api.schemas import Id, one_of, refusals
from lonewatch.core import permissions as perms
from lonewatch.core.permissions import fetch_or_refuse
from lonewatch.governance import actions, scoring
from lonewatch.governance.access import visible_risks
from lonewatch.governance.models import (
    Activity,
    ActivityRisk,
    Control,
    ReviewRequest,
    Risk,
    RiskType,
    SecurityProvision,
    Submission,
    Theme,
)
from lonewatch.governance.permissions import (
    ACTIVITIES,
    CATALOGUE,
    PROVISION,
    REGISTER,
    REVIEW_REQUEST,
)
from lonewatch.org.access import access_me, access_team
from lonewatch.org.models import Directorate, Person

router = Router(tags=["governance"])
Points = Field(ge=1, le=5, description="1 to 5")


def _guarded(call, *args, **kwargs):
    try:
        return call(*args, **kwargs)
    except actions.GovernanceConflict as error:
        raise HttpError(409, str(error)) from None
    except actions.GovernanceError as error:
        raise HttpError(400, str(error)) from None


def _people(ids: list[int], organisation_id: int, what: str) -> list[Person]:
    found = list(Person.objects.filter(pk__in=ids, organisation_id=organisation_id))
    if len(found) != len(set(ids)):
        raise HttpError(400, f"Some of the {what} named are not people of the trust.")
    return found


# --- a team's activities (RSK-01) ---------------------------------------------------------


class RiskStatementIn(Schema):
    risk_type: one_of(RiskType)
    description: str = Field(..., min_length=1, max_length=2000, pattern=r"\S")


class ActivityIn(Schema):
    title: str = Field(..., min_length=1, max_length=200, pattern=r"\S")
    description: str = Field("", max_length=5000)
    where: str = Field("", max_length=300)
    when: str = Field("", max_length=300)
    roles: str = Field("", max_length=300, description="The job roles that do it")
    people_ids: list[Id] = Field([], max_length=500,
                                 description="The team's people who do it, by name")
    risks: list[RiskStatementIn] = Field(..., min_length=1, max_length=50)


class RiskStatementOut(Schema):
    id: int
    risk_type: one_of(RiskType)
    description: str
    theme_id: int | None


class ActivityOut(Schema):
    id: int
    title: str
    description: str
    where: str
    when: str
    roles: str
    people_ids: list[int]
    risks: list[RiskStatementOut]


class SubmissionOut(Schema):
    id: int
    team_id: int
    version: int
    state: one_of(Submission.State)
    submitted_at: datetime | None
    decided_at: datetime | None
    comments: str
    review_on: date | None
    activities: list[ActivityOut]


class ActivityDecisionIn(Schema):
    accept: bool
    comments: str = Field("", max_length=5000, description="Needed to return it")


def _activity_out(activity: Activity) -> dict:
    return {"id": activity.pk, "title": activity.title, "description": activity.description,
            "where": activity.where, "when": activity.when, "roles": activity.roles,
            "people_ids": sorted(p.pk for p in activity.people.all()),
            "risks": list(activity.risks.all())}


def _submission_out(submission: Submission) -> dict:
    return {**{name: getattr(submission, name) for name in
               ("id", "team_id", "version", "state", "submitted_at", "decided_at",
                "comments", "review_on")},
            "activities": [_activity_out(a) for a in submission.activities.prefetch_related(
                "people", "risks")]}


def _submission(user, submission_id: int, action: str = perms.VIEW) -> Submission:
    return fetch_or_refuse(user, Submission.objects.select_related("team__directorate"),
                           submission_id, ACTIVITIES, action,
                           missing="No such list of activities, or not one you can see.")


@router.get("/teams/{team_id}/activities",
            response={200: list[SubmissionOut], **refusals(400, 404)},
            summary="Every version of a team's lone-working activities, newest first")
def list_submissions(request, team_id: int):
    team = access_team(request.user, team_id)
    found = perms.filter_visible(request.user, Submission.objects.filter(team=team))
    return [_submission_out(s) for s in found.order_by("-version")]


@router.post("/teams/{team_id}/activities",
             response={201: ActivityOut, **refusals(400, 403, 404, 409)},
             summary="Add an activity, with its risks and who does it, to the team's draft "
                     "(RSK-01)")
def add_activity(request, team_id: int, payload: ActivityIn):
    team = access_team(request.user, team_id)
    draft = actions.draft_of(team, actor=request.user)
    values = payload.dict()
    people = _people(values.pop("people_ids"), team.directorate.organisation_id, "people")
    activity = _guarded(actions.do_add_activity, draft, actor=request.user, people=people,
                        **values)
    return Status(201, _activity_out(activity))


@router.delete("/activities/{activity_id}", response={204: None, **refusals(400, 403, 404,
                                                                             409)},
               summary="Take an activity out of the team's draft")
def remove_activity(request, activity_id: int):
    activity = Activity.objects.filter(pk=activity_id).select_related(
        "submission__team__directorate").first()
    if activity is None or not perms.can(request.user, perms.VIEW, ACTIVITIES,
                                         activity.submission):
        raise HttpError(404, "No such activity, or not one you can see.")
    _guarded(actions.do_remove_activity, activity, actor=request.user)
    return Status(204, None)


@router.post("/activity-lists/{submission_id}/submit",
             response={200: SubmissionOut, **refusals(400, 403, 404, 409)},
             summary="Submit the team's activities to the directorate")
def submit(request, submission_id: int):
    submission = _submission(request.user, submission_id, perms.CHANGE)
    return _submission_out(_guarded(actions.do_submit, submission, actor=request.user))


@router.post("/activity-lists/{submission_id}/decision",
             response={200: SubmissionOut, **refusals(400, 403, 404, 409)},
             summary="The directorate lead accepts the list, or returns it with comments")
def review(request, submission_id: int, payload: ActivityDecisionIn):
    submission = _submission(request.user, submission_id, perms.ACT)
    return _submission_out(_guarded(actions.do_review, submission, actor=request.user,
                                    **payload.dict()))


# --- themes and controls (RSK-01, RSK-02) -------------------------------------------------


class ThemeIn(Schema):
    title: str = Field(..., min_length=1, max_length=200, pattern=r"\S")
    risk_type: one_of(RiskType)
    description: str = Field("", max_length=5000)
    statement_ids: list[Id] = Field([], max_length=5000,
                                    description="Teams' risk statements to file under it")


class RiskThemeOut(Schema):
    id: int
    title: str
    risk_type: one_of(RiskType)
    description: str
    teams: list[str]
    statements: int
    control_ids: list[int]


class ControlIn(Schema):
    title: str = Field(..., min_length=1, max_length=200, pattern=r"\S")
    description: str = Field("", max_length=5000)
    theme_ids: list[Id] = Field(..., min_length=1, max_length=500)


class RiskControlOut(Schema):
    id: int
    title: str
    description: str
    theme_ids: list[int]


class StatementOut(RiskStatementOut):
    team: str
    activity: str


def _theme_out(theme: Theme) -> dict:
    teams = sorted({s.activity.submission.team.name for s in theme.statements.select_related(
        "activity__submission__team")})
    return {"id": theme.pk, "title": theme.title, "risk_type": theme.risk_type,
            "description": theme.description, "teams": teams,
            "statements": theme.statements.count(),
            "control_ids": list(theme.controls.values_list("pk", flat=True))}


def _catalogue_reader(user):
    me = access_me(user)
    if not perms.can_anywhere(user, perms.VIEW, CATALOGUE):
        raise HttpError(403, "The themes and controls are for managers and the security "
                             "manager.")
    return me


def _catalogue_keeper(user):
    me = access_me(user)
    if not perms.can_anywhere(user, perms.CHANGE, CATALOGUE):
        raise HttpError(403, "Only the security manager keeps the themes and the controls.")
    return me


@router.get("/risk-statements", response={200: list[StatementOut], **refusals(403)},
            summary="Every risk of every team's accepted activities, for the thematic "
                    "analysis (the security manager's)")
def statements(request):
    me = _catalogue_keeper(request.user)
    return [{"id": r.pk, "risk_type": r.risk_type, "description": r.description,
             "theme_id": r.theme_id, "team": r.activity.submission.team.name,
             "activity": r.activity.title} for r in actions.accepted_risks(me.organisation_id)]


@router.get("/themes", response={200: list[RiskThemeOut], **refusals(403)},
            summary="The trust's lone-working activity/risk themes")
def list_themes(request):
    me = _catalogue_reader(request.user)
    return [_theme_out(t) for t in Theme.objects.filter(organisation_id=me.organisation_id)]


@router.post("/themes", response={201: RiskThemeOut, **refusals(400, 403)},
             summary="A theme, and the teams' risk statements filed under it (RSK-01)")
def add_theme(request, payload: ThemeIn):
    me = _catalogue_keeper(request.user)
    values = payload.dict()
    ids = values.pop("statement_ids")
    theme = _guarded(actions.do_save_theme, me.organisation, actor=request.user, **values)
    found = list(ActivityRisk.objects.filter(
        pk__in=ids, activity__submission__team__directorate__organisation_id=me.organisation_id
    ).select_related("activity__submission__team__directorate__organisation"))
    if len(found) != len(set(ids)):
        raise HttpError(400, "Some of the risk statements named are not the trust's.")
    _guarded(actions.do_file_under, found, theme, actor=request.user)
    return Status(201, _theme_out(theme))


@router.get("/controls", response={200: list[RiskControlOut], **refusals(403)},
            summary="The controls catalogue (RSK-02)")
def list_controls(request):
    me = _catalogue_reader(request.user)
    return [{"id": c.pk, "title": c.title, "description": c.description,
             "theme_ids": [t.pk for t in c.themes.all()]}
            for c in Control.objects.filter(organisation_id=me.organisation_id)
            .prefetch_related("themes")]


@router.post("/controls", response={201: RiskControlOut, **refusals(400, 403)},
             summary="A control, and the themes it mitigates (RSK-02)")
def add_control(request, payload: ControlIn):
    me = _catalogue_keeper(request.user)
    values = payload.dict()
    ids = values.pop("theme_ids")
    themes = list(Theme.objects.filter(pk__in=ids, organisation_id=me.organisation_id))
    if len(themes) != len(set(ids)):
        raise HttpError(400, "Some of the themes named are not the trust's.")
    control = _guarded(actions.do_save_control, me.organisation, actor=request.user,
                       themes=themes, **values)
    return Status(201, {"id": control.pk, "title": control.title,
                        "description": control.description,
                        "theme_ids": [t.pk for t in themes]})


# --- the risk register (RSK-03) -----------------------------------------------------------


class ScoresIn(Schema):
    initial_likelihood: int = Points
    initial_consequence: int = Points
    current_likelihood: int = Points
    current_consequence: int = Points
    target_likelihood: int = Points
    target_consequence: int = Points


class RiskIn(ScoresIn):
    level: one_of(Risk.Level)
    directorate_id: Id | None = Field(None, description="For a directorate's risk")
    team_id: Id | None = Field(None, description="For a team's risk")
    lone_working: bool = Field(False, description="The organisation's lone-working risk")
    title: str = Field(..., min_length=1, max_length=200, pattern=r"\S")
    description: str = Field(..., min_length=1, max_length=5000, pattern=r"\S")
    owner_id: Id
    review_on: date
    theme_ids: list[Id] = Field([], max_length=500)
    control_ids: list[Id] = Field([], max_length=500)
    controls_in_place: str = Field("", max_length=5000)
    gaps_in_control: str = Field("", max_length=5000)
    gaps_in_assurance: str = Field("", max_length=5000)


class RiskScoreOut(Schema):
    likelihood: int
    consequence: int
    score: int
    band: Literal["low", "moderate", "high", "extreme"]


class ScoreChangeOut(Schema):
    which: Literal["initial", "current", "target"]
    score: int
    likelihood: int
    consequence: int
    at: datetime
    by: str
    reason: str


class RiskActionOut(Schema):
    id: int
    description: str
    owner_id: int
    due_on: date
    done_at: datetime | None


class RiskOut(Schema):
    id: int
    level: one_of(Risk.Level)
    directorate_id: int | None
    team_id: int | None
    lone_working: bool
    title: str
    description: str
    owner_id: int
    initial: RiskScoreOut
    current: RiskScoreOut
    target: RiskScoreOut
    theme_ids: list[int]
    control_ids: list[int]
    controls_in_place: str
    gaps_in_control: str
    gaps_in_assurance: str
    review_on: date
    actions: list[RiskActionOut]
    history: list[ScoreChangeOut]


class RescoreIn(Schema):
    initial_likelihood: int | None = Field(None, ge=1, le=5, description="1 to 5")
    initial_consequence: int | None = Field(None, ge=1, le=5, description="1 to 5")
    current_likelihood: int | None = Field(None, ge=1, le=5, description="1 to 5")
    current_consequence: int | None = Field(None, ge=1, le=5, description="1 to 5")
    target_likelihood: int | None = Field(None, ge=1, le=5, description="1 to 5")
    target_consequence: int | None = Field(None, ge=1, le=5, description="1 to 5")
    reason: str = Field(..., min_length=1, max_length=500, pattern=r"\S")


class RiskActionIn(Schema):
    description: str = Field(..., min_length=1, max_length=2000, pattern=r"\S")
    owner_id: Id
    due_on: date


def _score_out(score: scoring.Score) -> dict:
    return {"likelihood": score.likelihood, "consequence": score.consequence,
            "score": score.value, "band": score.band}


def _risk_out(risk: Risk) -> dict:
    return {**{name: getattr(risk, name) for name in
               ("id", "level", "directorate_id", "team_id", "lone_working", "title",
                "description", "owner_id", "controls_in_place", "gaps_in_control",
                "gaps_in_assurance", "review_on")},
            **{which: _score_out(risk.score(which)) for which in actions.SCORES},
            "theme_ids": [t.pk for t in risk.themes.all()],
            "control_ids": [c.pk for c in risk.controls.all()],
            "actions": list(risk.actions.all()),
            "history": [{"which": c.which, "score": c.score, "likelihood": c.likelihood,
                         "consequence": c.consequence, "at": c.at,
                         "by": c.by.get_username(), "reason": c.reason}
                        for c in risk.score_changes.select_related("by")]}


def _risk(user, risk_id: int, action: str = perms.VIEW) -> Risk:
    risk = visible_risks(user).filter(pk=risk_id).first()
    if risk is None:
        raise HttpError(404, "No such risk, or not one you can see.")
    if action != perms.VIEW and not perms.can(user, action, REGISTER, risk):
        raise HttpError(403, "You cannot change this risk.")
    return risk


@router.get("/risks", response={200: list[RiskOut], **refusals(400, 403)},
            summary="The risk register as the caller may read it, highest current score "
                    "first")
def list_risks(request, level: one_of(Risk.Level) | None = None):
    if not perms.can_anywhere(request.user, perms.VIEW, REGISTER):
        raise HttpError(403, "The risk register is for managers and the security manager.")
    found = visible_risks(request.user)
    if level is not None:
        found = found.filter(level=level)
    return [_risk_out(r) for r in found.prefetch_related("themes", "controls", "actions")]


@router.post("/risks", response={201: RiskOut, **refusals(400, 403, 409)},
             summary="Add a risk to the register (RSK-03)")
def add_risk(request, payload: RiskIn):
    me = access_me(request.user)
    if not perms.can_anywhere(request.user, perms.CHANGE, REGISTER):
        raise HttpError(403, "Only managers and the security manager add risks.")
    values = payload.dict()
    scores = {name: values.pop(name) for name in ScoresIn.model_fields}
    owner = _people([values.pop("owner_id")], me.organisation_id, "owners")[0]
    directorate = team = None
    if (directorate_id := values.pop("directorate_id")) is not None:
        directorate = Directorate.objects.filter(
            pk=directorate_id, organisation_id=me.organisation_id).first()
        if directorate is None:
            raise HttpError(400, f"There is no directorate with id {directorate_id}.")
    if (team_id := values.pop("team_id")) is not None:
        team = access_team(request.user, team_id)
    themes = list(Theme.objects.filter(pk__in=values.pop("theme_ids"),
                                       organisation_id=me.organisation_id))
    controls = list(Control.objects.filter(pk__in=values.pop("control_ids"),
                                           organisation_id=me.organisation_id))
    risk = _guarded(actions.do_add_risk, me.organisation, actor=request.user, owner=owner,
                    directorate=directorate, team=team, scores=scores, themes=themes,
                    controls=controls, **values)
    return Status(201, _risk_out(risk))


@router.get("/risks/{risk_id}", response={200: RiskOut, **refusals(400, 404)},
            summary="One risk, with its actions and the history of its scores")
def get_risk(request, risk_id: int):
    return _risk_out(_risk(request.user, risk_id))


@router.post("/risks/{risk_id}/scores", response={200: RiskOut, **refusals(400, 403, 404)},
             summary="Change a risk's scores, with the reason (kept in its history)")
def rescore(request, risk_id: int, payload: RescoreIn):
    risk = _risk(request.user, risk_id, perms.CHANGE)
    values = {k: v for k, v in payload.dict().items() if v is not None}
    reason = values.pop("reason")
    return _risk_out(_guarded(actions.do_rescore, risk, actor=request.user, scores=values,
                              reason=reason))


@router.post("/risks/{risk_id}/actions", response={201: RiskActionOut, **refusals(400, 403, 404)},
             summary="An action to bring the risk towards its target, with owner and due "
                     "date")
def add_action(request, risk_id: int, payload: RiskActionIn):
    risk = _risk(request.user, risk_id, perms.CHANGE)
    owner = _people([payload.owner_id], risk.organisation_id, "owners")[0]
    return Status(201, _guarded(actions.do_add_action, risk, actor=request.user,
                                description=payload.description, owner=owner,
                                due_on=payload.due_on))


# --- reviews and external security provision (RSK-06, RSK-07) ------------------------------


class ReviewRequestIn(Schema):
    subject: one_of(ReviewRequest.Subject)
    risk_id: Id | None = Field(None, description="For a risk")
    team_id: Id | None = Field(None, description="For a team's SOP or activities")
    reason: str = Field(..., min_length=1, max_length=5000, pattern=r"\S")
    source: str = Field("", max_length=200, description="What asks, such as an incident")


class ReviewRequestOut(Schema):
    id: int
    subject: one_of(ReviewRequest.Subject)
    risk_id: int | None
    team_id: int | None
    reason: str
    source: str
    requested_at: datetime
    done_at: datetime | None


class ProvisionIn(Schema):
    service_user: str = Field(..., min_length=1, max_length=200, pattern=r"\S",
                              description="A reference, not a name")
    address: str = Field(..., min_length=1, max_length=300, pattern=r"\S")
    why_care_continues: str = Field(..., min_length=1, max_length=5000, pattern=r"\S",
                                    description="Why care cannot be withdrawn or moved")
    mdt_date: date = Field(description="The MDT meeting that considered every other option")
    mdt_attendees: str = Field(..., min_length=1, max_length=2000, pattern=r"\S")
    mdt_outcome: str = Field(..., min_length=1, max_length=5000, pattern=r"\S")
    starts_on: date
    ends_on: date = Field(description="At most 90 days after the start")


class ProvisionOut(Schema):
    id: int
    team_id: int
    service_user: str
    address: str
    why_care_continues: str
    mdt_date: date
    mdt_attendees: str
    mdt_outcome: str
    starts_on: date
    ends_on: date
    state: one_of(SecurityProvision.State)
    signed_off_at: datetime | None
    sign_off_note: str


class SignOffIn(Schema):
    approve: bool
    note: str = Field("", max_length=5000, description="Needed to decline")


@router.get("/review-requests", response={200: list[ReviewRequestOut], **refusals(400)},
            summary="Out-of-cycle review requests the caller may see, newest first")
def list_review_requests(request, open_only: bool = True):
    found = perms.filter_visible(request.user, ReviewRequest.objects.all())
    return list(found.filter(done_at__isnull=True) if open_only else found)


@router.post("/review-requests", response={201: ReviewRequestOut, **refusals(400, 403, 404)},
             summary="Ask for an out-of-cycle review of a risk, an SOP or a team's "
                     "activities, with the reason (RSK-06)")
def request_review(request, payload: ReviewRequestIn):
    me = access_me(request.user)
    if not perms.can_anywhere(request.user, perms.CHANGE, REVIEW_REQUEST):
        raise HttpError(403, "Managers and the security manager ask for reviews.")
    risk = _risk(request.user, payload.risk_id) if payload.risk_id else None
    team = access_team(request.user, payload.team_id) if payload.team_id else None
    return Status(201, _guarded(actions.do_request_review, me.organisation,
                                subject=payload.subject, reason=payload.reason,
                                source=payload.source, actor=request.user, risk=risk,
                                team=team))


@router.post("/review-requests/{request_id}/done",
             response={200: ReviewRequestOut, **refusals(400, 403, 404, 409)},
             summary="The review asked for is done")
def close_review_request(request, request_id: int):
    found = fetch_or_refuse(request.user, ReviewRequest.objects.select_related(
        "risk", "team__directorate"), request_id, REVIEW_REQUEST,
        missing="No such review request, or not one you can see.")
    return _guarded(actions.do_close_review_request, found, actor=request.user)


@router.get("/security-provisions", response={200: list[ProvisionOut], **refusals(400)},
            summary="External security provisions the caller may see (RSK-07)")
def list_provisions(request):
    return list(perms.filter_visible(request.user, SecurityProvision.objects.all()))


@router.post("/teams/{team_id}/security-provisions",
             response={201: ProvisionOut, **refusals(400, 403, 404)},
             summary="Ask for a physical security presence, after an MDT meeting; it waits "
                     "for an executive's sign-off (RSK-07)")
def request_provision(request, team_id: int, payload: ProvisionIn):
    team = access_team(request.user, team_id)
    return Status(201, _guarded(actions.do_request_provision, team, actor=request.user,
                                **payload.dict()))


@router.post("/security-provisions/{provision_id}/sign-off",
             response={200: ProvisionOut, **refusals(400, 403, 404, 409)},
             summary="An executive director signs the provision off, or declines it, from "
                     "their own account")
def sign_off_provision(request, provision_id: int, payload: SignOffIn):
    provision = fetch_or_refuse(request.user, SecurityProvision.objects.select_related(
        "team__directorate"), provision_id, PROVISION,
        missing="No such security provision, or not one you can see.")
    return _guarded(actions.do_sign_off_provision, provision, actor=request.user,
                    approve=payload.approve, note=payload.note)
