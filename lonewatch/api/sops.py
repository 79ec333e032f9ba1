"""Team SOPs and the trust's guidance over the JSON API (RSK-04, RSK-01, RSK-02): a
team's versions, a draft's themes and local arrangements, submission and the directorate
lead's decision, and each as a PDF or an editable Word document."""

from datetime import date, datetime

from django.http import HttpResponse
from ninja import Router, Schema, Status
from ninja.errors import HttpError
from pydantic import Field

from lonewatch.api.schemas import Error, Id, one_of, refusals
from lonewatch.core import pdf, team_facts
from lonewatch.core import permissions as perms
from lonewatch.governance import actions, documents, sops
from lonewatch.governance.access import (
    access_guidance,
    access_sop,
    access_team_sops,
    versions,
)
from lonewatch.governance.actions import GovernanceConflict, GovernanceError
from lonewatch.governance.models import RiskType, Sop, Theme

router = Router(tags=["sops"])


class SopSummaryOut(Schema):
    id: int
    team_id: int
    version: int
    state: one_of(Sop.State)
    author: str
    created_at: datetime
    approved_by: str | None
    approved_at: datetime | None
    review_on: date | None


class SopControlOut(Schema):
    id: int
    title: str
    description: str


class SopThemeOut(Schema):
    id: int
    title: str
    risk_type: one_of(RiskType)
    description: str
    controls: list[SopControlOut]


class SopSectionOut(Schema):
    key: str
    title: str
    lines: list[str]


class SopOut(SopSummaryOut):
    team: str
    theme_ids: list[int]
    themes: list[SopThemeOut]
    local_arrangements: str
    returned_comments: str = Field(description="The directorate lead's comments, while a "
                                               "version they returned is a draft again")
    live: list[SopSectionOut] = Field(description="Read from Lonewatch now: the team's "
                                                  "escalation steps, buddies, equipment "
                                                  "and check-in intervals")


class SopIn(Schema):
    theme_ids: list[Id] = Field(..., max_length=actions.MOST_THEMES,
                                description="The activity/risk themes the SOP covers")
    local_arrangements: str = Field("", max_length=actions.LOCAL_ARRANGEMENTS_LIMIT)


class SopDecisionIn(Schema):
    approve: bool
    comments: str = Field("", max_length=5000,
                          description="Needed when the SOP is returned")


def _guarded(call, *args, **kwargs):
    try:
        return call(*args, **kwargs)
    except GovernanceConflict as error:
        raise HttpError(409, str(error)) from None
    except GovernanceError as error:
        raise HttpError(400, str(error)) from None


def _name(user) -> str | None:
    return sops.name_of(user) or None


def _summary(sop: Sop) -> dict:
    return {"id": sop.pk, "team_id": sop.team_id, "version": sop.version, "state": sop.state,
            "author": _name(sop.author), "created_at": sop.created_at,
            "approved_by": _name(sop.approved_by), "approved_at": sop.approved_at,
            "review_on": sop.review_on}


def _sop_out(sop: Sop) -> dict:
    themes = list(sop.themes.prefetch_related("controls").order_by("title"))
    return _summary(sop) | {
        "team": sop.team.name, "theme_ids": [t.pk for t in themes],
        "themes": [{"id": t.pk, "title": t.title, "risk_type": t.risk_type,
                    "description": t.description,
                    "controls": [{"id": c.pk, "title": c.title, "description": c.description}
                                 for c in sorted(t.controls.all(), key=lambda c: c.title)]}
                   for t in themes],
        "local_arrangements": sop.local_arrangements,
        "returned_comments": sops.returned_comments(sop),
        "live": [{"key": s.key, "title": s.title, "lines": s.lines}
                 for s in team_facts.sections(sop.team)],
    }


def _file(data: bytes, content_type: str, name: str) -> HttpResponse:
    response = HttpResponse(data, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    return response


def _pdf(make, content: dict, name: str) -> HttpResponse:
    try:
        return _file(make(content), documents.PDF, name)
    except pdf.PdfUnavailable as error:
        raise HttpError(503, f"{error} Download the Word document instead.") from None


def _binary(content_type: str, what: str) -> dict:
    return {"responses": {200: {"description": what, "content": {
        content_type: {"schema": {"type": "string", "format": "binary"}}}}}}


FILE_REFUSALS = {**refusals(400, 404), 503: Error}


# The downloads come first: ``/sops/{sop_id}`` would take "12.pdf" as an id.
@router.get("/sops/{sop_id}.pdf", response={200: None, **FILE_REFUSALS},
            summary="The SOP as a PDF, with the live sections read now (RSK-04)",
            openapi_extra=_binary(documents.PDF, "The SOP as a PDF"))
def sop_pdf(request, sop_id: int):
    content = sops.sop_content(access_sop(request.user, sop_id))
    return _pdf(documents.sop_pdf, content, documents.sop_filename(content, "pdf"))


@router.get("/sops/{sop_id}.docx", response={200: None, **refusals(400, 404)},
            summary="The SOP as an editable Word document (RSK-04)",
            openapi_extra=_binary(documents.DOCX, "The SOP as a Word document"))
def sop_docx(request, sop_id: int):
    content = sops.sop_content(access_sop(request.user, sop_id))
    return _file(documents.sop_docx(content), documents.DOCX,
                 documents.sop_filename(content, "docx"))


@router.get("/guidance.pdf", response={200: None, **refusals(403), 503: Error},
            summary="The trust's lone-working guidance, made from the themes and controls "
                    "(RSK-01, RSK-02)",
            openapi_extra=_binary(documents.PDF, "The guidance as a PDF"))
def guidance_pdf(request):
    content = sops.guidance_content(access_guidance(request.user))
    return _pdf(documents.guidance_pdf, content, documents.guidance_filename(content, "pdf"))


@router.get("/guidance.docx", response={200: None, **refusals(403)},
            summary="The trust's lone-working guidance as a Word document",
            openapi_extra=_binary(documents.DOCX, "The guidance as a Word document"))
def guidance_docx(request):
    content = sops.guidance_content(access_guidance(request.user))
    return _file(documents.guidance_docx(content), documents.DOCX,
                 documents.guidance_filename(content, "docx"))


@router.get("/teams/{team_id}/sops", response={200: list[SopSummaryOut], **refusals(400, 404)},
            summary="The team's SOP versions, newest first; a member of the team sees the "
                    "approved one only (RSK-04)")
def list_sops(request, team_id: int):
    team, every = access_team_sops(request.user, team_id)
    return [_summary(sop) for sop in versions(team, every)]


@router.post("/teams/{team_id}/sops",
             response={201: SopOut, **refusals(400, 403, 404, 409)},
             summary="Start a new draft from the last version (the team's line manager)")
def start_sop(request, team_id: int):
    team, _ = access_team_sops(request.user, team_id, action=perms.CHANGE)
    return Status(201, _sop_out(_guarded(actions.do_start_sop, team, actor=request.user)))


@router.get("/sops/{sop_id}", response={200: SopOut, **refusals(400, 404)},
            summary="One SOP version, with the live sections read now (RSK-04)")
def get_sop(request, sop_id: int):
    return _sop_out(access_sop(request.user, sop_id))


@router.put("/sops/{sop_id}", response={200: SopOut, **refusals(400, 403, 404, 409)},
            summary="Change a draft's themes and local arrangements")
def edit_sop(request, sop_id: int, payload: SopIn):
    sop = access_sop(request.user, sop_id, action=perms.CHANGE)
    ids = set(payload.theme_ids)
    themes = list(Theme.objects.filter(
        pk__in=ids, organisation_id=sop.team.directorate.organisation_id))
    missing = sorted(ids - {t.pk for t in themes})
    if missing:
        raise HttpError(400, f"There is no theme with id {missing[0]} in the catalogue.")
    return _sop_out(_guarded(actions.do_edit_sop, sop, actor=request.user, themes=themes,
                             local_arrangements=payload.local_arrangements))


@router.post("/sops/{sop_id}/submit", response={200: SopOut, **refusals(400, 403, 404, 409)},
             summary="Send the draft to the directorate lead for approval")
def submit_sop(request, sop_id: int):
    sop = access_sop(request.user, sop_id, action=perms.CHANGE)
    return _sop_out(_guarded(actions.do_submit_sop, sop, actor=request.user))


@router.post("/sops/{sop_id}/decision",
             response={200: SopOut, **refusals(400, 403, 404, 409)},
             summary="Approve the SOP (it supersedes the last approved version) or return "
                     "it with comments (the team's directorate lead)")
def decide_sop(request, sop_id: int, payload: SopDecisionIn):
    sop = access_sop(request.user, sop_id, action=perms.ACT)
    return _sop_out(_guarded(actions.do_approve_sop, sop, actor=request.user,
                             approve=payload.approve, comments=payload.comments))
