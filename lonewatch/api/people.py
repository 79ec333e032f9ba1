from datetime import datetime

from django.http import Http404
from ninja import Query, Router, Schema, Status
from ninja.errors import HttpError
from pydantic import Field

from lonewatch import clock
from lonewatch.accounts import actions as account_actions
from lonewatch.accounts.models import ApiToken
from lonewatch.api.schemas import (
    MAX_ID,
    Id,
    NextOfKinOut,
    PersonOut,
    PersonSummary,
    TeamOut,
    TokenOut,
    one_of,
    refusals,
)
from lonewatch.core import permissions as perms
from lonewatch.org import actions
from lonewatch.org.access import access_me, access_person, access_team
from lonewatch.org.models import Absence, Person, Team
from lonewatch.org.permissions import ABSENCE, CONTACT, FITNESS, NEXT_OF_KIN

router = Router(tags=["people"])


def _summary(person: Person) -> dict:
    return {"id": person.pk, "username": person.username, "full_name": person.full_name,
            "job_title": person.job_title, "team_id": person.team_id,
            "team": person.team.name if person.team else None}


def _person_out(user, person: Person) -> dict:
    out = _summary(person) | {
        "line_manager_id": person.line_manager_id, "buddy_id": person.buddy_id,
        "buddy_accepted": person.buddy_accepted_at is not None,
        "roles": [{"role": m.role, "scope": m.scope, "team_id": m.team_id,
                   "directorate_id": m.directorate_id} for m in person.roles.all()],
    }
    if perms.can(user, perms.VIEW, CONTACT, person):
        out["contact"] = {"mobile": person.mobile, "email": person.email,
                          "vehicle_description": person.vehicle_description,
                          "description": person.description,
                          "known_breaks": person.known_breaks}
    if perms.can(user, perms.VIEW, FITNESS, person):
        out["fitness"] = {"unable_to_work_alone": person.unable_to_work_alone,
                          "review_date": person.unable_to_work_alone_review}
    return out


@router.get("/me", response={200: PersonOut, **refusals(403)}, summary="The caller's own record")
def me(request):
    person = access_me(request.user)
    return _person_out(request.user, access_person(request.user, person.pk))


@router.get("/people", response={200: list[PersonSummary], **refusals(400)},
            summary="People the caller may see")
def list_people(request, q: str = Query("", description="Part of the person's name"),
                team_id: Id | None = None, limit: int = Query(100, ge=1, le=500),
                offset: int = Query(0, ge=0, le=MAX_ID)):
    found = perms.filter_visible(request.user, Person.objects.select_related("team", "user"))
    if q:
        found = found.filter(full_name__icontains=q)
    if team_id is not None:
        found = found.filter(team_id=team_id)
    return [_summary(p) for p in found.order_by("full_name")[offset:offset + limit]]


@router.get("/people/{person_id}", response={200: PersonOut, **refusals(400, 404)})
def get_person(request, person_id: int):
    return _person_out(request.user, access_person(request.user, person_id))


@router.get("/people/{person_id}/next-of-kin",
            response={200: list[NextOfKinOut], **refusals(400, 403, 404)},
            summary="Next of kin (sensitive: every read is audited)")
def get_next_of_kin(request, person_id: int):
    person = access_person(request.user, person_id, kind=NEXT_OF_KIN)
    return actions.read_next_of_kin(person, actor=request.user)


@router.get("/teams", response={200: list[TeamOut], **refusals()}, tags=["teams"])
def list_teams(request):
    teams = perms.filter_visible(request.user, Team.objects.select_related("directorate"))
    return [{"id": t.pk, "name": t.name, "directorate_id": t.directorate_id,
             "directorate": t.directorate.name} for t in teams.order_by("name")]


@router.get("/teams/{team_id}/members",
            response={200: list[PersonSummary], **refusals(400, 404)},
            tags=["teams"])
def team_members(request, team_id: int):
    team = access_team(request.user, team_id)
    found = perms.filter_visible(request.user, Person.objects.select_related("team", "user"))
    return [_summary(p) for p in found.filter(team=team).order_by("full_name")]


@router.get("/tokens", response={200: list[TokenOut], **refusals()}, tags=["tokens"],
            summary="The caller's tokens")
def list_tokens(request):
    return list(ApiToken.objects.filter(user=request.user))


@router.post("/tokens/{token_id}/revoke", response={200: TokenOut, **refusals(400, 404)},
             tags=["tokens"])
def revoke_token(request, token_id: int):
    token = ApiToken.objects.filter(pk=token_id, user=request.user).first()
    if token is None:
        raise Http404("No such token among yours.")
    account_actions.do_revoke_token(token, actor=request.user)
    token.refresh_from_db()
    return token


class AbsenceIn(Schema):
    reason: one_of(Absence.Reason)
    starts_at: datetime = Field(description="With a time zone: 2026-12-01T09:00:00Z")
    ends_at: datetime = Field(description="After starts_at")


class AbsenceOut(Schema):
    id: int
    person_id: int
    reason: one_of(Absence.Reason)
    starts_at: datetime
    ends_at: datetime


@router.get("/people/{person_id}/absences",
            response={200: list[AbsenceOut], **refusals(400, 403, 404)}, tags=["absences"],
            summary="Leave, sickness and off-duty periods ending from now on (BUD-02)")
def list_absences(request, person_id: int):
    person = access_person(request.user, person_id, kind=ABSENCE)
    return list(person.absences.filter(ends_at__gt=clock.now()).order_by("starts_at"))


@router.post("/people/{person_id}/absences",
             response={201: AbsenceOut, **refusals(400, 403, 404)}, tags=["absences"],
             summary="Record leave, sickness or time off duty")
def add_absence(request, person_id: int, payload: AbsenceIn):
    person = access_person(request.user, person_id, kind=ABSENCE,
                           action=perms.CHANGE)
    try:
        absence = actions.do_add_absence(person, reason=payload.reason,
                                         starts_at=payload.starts_at, ends_at=payload.ends_at,
                                         actor=request.user)
    except ValueError as error:
        raise HttpError(400, f"The absence is not valid: {error}.") from None
    return Status(201, absence)


@router.delete("/absences/{absence_id}", response={204: None, **refusals(400, 403, 404)},
               tags=["absences"])
def remove_absence(request, absence_id: int):
    absence = Absence.objects.filter(pk=absence_id).first()
    if absence is None:
        raise Http404("No such absence.")
    access_person(request.user, absence.person_id, kind=ABSENCE, action=perms.CHANGE)
    actions.do_remove_absence(absence, actor=request.user)
    return Status(204, None)
