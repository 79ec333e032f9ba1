"""The risk marker register and the pre-visit check over the JSON API (PRE-01, PRE-04)."""

from datetime import date, datetime
from typing import Any, Literal

from django.utils import timezone
from ninja import Query, Router, Schema, Status
from ninja.errors import HttpError
from pydantic import ConfigDict, Field

from lonewatch import clock
from lonewatch.api.schemas import NHS_NUMBER, POSTCODE, WAYS_OUT, BadRequest, one_of, refusals
from lonewatch.core import permissions as perms
from lonewatch.markers import access, actions, fhir
from lonewatch.markers.models import Category, Marker, Share
from lonewatch.markers.permissions import MARKER, PRECHECK
from lonewatch.org.access import access_me

router = Router(tags=["markers"])



class MarkerIn(Schema):
    category: one_of(Category)
    nature: str = Field(..., min_length=1, max_length=5000, description="What the risk is")
    advice: str = Field(..., min_length=1, max_length=5000,
                        description="Practical advice for whoever visits")
    source: str = Field(..., min_length=1, max_length=200,
                        description="Where the information came from")
    review_on: date
    nhs_number: str = Field("", max_length=20, pattern=NHS_NUMBER,
                            description="Spaces and dashes are ignored")
    local_id: str = Field("", max_length=60)
    postcode: str = Field("", max_length=10, pattern=POSTCODE)
    house: str = Field("", max_length=100, description="House number or name")
    flat: str = Field("", max_length=30)
    whole_building: bool = False
    uprn: str = Field("", max_length=12)


class MarkerOut(Schema):
    id: int
    category: one_of(Category)
    nature: str
    advice: str
    source: str
    nhs_number: str
    local_id: str
    postcode: str
    house: str
    flat: str
    whole_building: bool
    uprn: str
    raised_at: datetime
    review_on: date
    expired: bool
    state: one_of(Marker.State)


class PrecheckOut(Schema):
    risk: Literal["low", "high"]
    reasons: list[str]
    markers: list[MarkerOut]
    requires: list[Literal[tuple(WAYS_OUT)]]


def marker_out(marker: Marker) -> dict:
    return {**{name: getattr(marker, name) for name in MarkerOut.model_fields
               if name not in ("expired",)},
            "expired": marker.review_on < timezone.localdate(clock.now())}


@router.get("/markers", response={200: list[MarkerOut], **refusals(400, 403)},
            summary="The risk marker register (the security manager's); every read is "
                    "audited")
def list_markers(request):
    if not perms.can_anywhere(request.user, perms.VIEW, MARKER):
        raise HttpError(403, "The register is the security manager's. Check a visit's "
                             "markers with /api/v1/visits/precheck.")
    me = access_me(request.user)
    found = list(Marker.objects.filter(organisation_id=me.organisation_id,
                                       ended_at__isnull=True)[:1000])
    actions.audit_read(found, actor=request.user, why="the register was read")
    return [marker_out(m) for m in found]


@router.post("/markers", response={201: MarkerOut, **refusals(400, 403)},
             summary="Add a risk marker for a person, a place or both")
def add_marker(request, payload: MarkerIn):
    if not perms.can_anywhere(request.user, perms.CHANGE, MARKER):
        raise HttpError(403, "Only the security manager adds markers to the register.")
    me = access_me(request.user)
    try:
        marker = actions.do_add_marker(me.organisation, actor=request.user, **payload.dict())
    except actions.MarkerError as error:
        raise HttpError(400, str(error)) from None
    return Status(201, marker_out(marker))


@router.get("/visits/precheck", response={200: PrecheckOut, **refusals(400, 403)},
            summary="Before a visit: its risk, low or high, with the reasons, the markers and "
                    "what a high-risk visit needs before it starts")
def precheck(request, nhs_number: str = Query("", max_length=20, pattern=NHS_NUMBER),
             local_id: str = Query("", max_length=60),
             postcode: str = Query("", max_length=10, pattern=POSTCODE),
             address: str = Query("", max_length=300), uprn: str = Query("", max_length=12)):
    if not perms.can_anywhere(request.user, perms.VIEW, PRECHECK):
        raise HttpError(403, "The pre-visit check is for whoever plans visits.")
    try:
        result = access.precheck_for(request.user, nhs_number=nhs_number, local_id=local_id,
                                     postcode=postcode, address=address, uprn=uprn)
    except actions.MarkerError as error:
        raise HttpError(400, str(error)) from None
    return precheck_out(result)


def precheck_out(result: actions.Precheck) -> dict:
    return {"risk": result.risk, "reasons": result.reasons,
            "markers": [marker_out(m) for m in result.shown], "requires": result.requires}


class ShareIn(Schema):
    organisation: str = Field(..., min_length=1, max_length=200,
                              description="The organisation it was shared with")
    role: str = Field(..., min_length=1, max_length=200,
                      description="The role of the person it was shared with")
    basis: one_of(Share.Basis)
    note: str = Field("", max_length=500)


class ShareOut(Schema):
    id: int
    marker_id: int
    organisation: str
    role: str
    basis: one_of(Share.Basis)
    note: str
    shared_at: datetime
    shared_by: str


def _marker(user, marker_id: int) -> Marker:
    if not perms.can_anywhere(user, perms.VIEW, MARKER):
        raise HttpError(403, "The register is the security manager's.")
    found = Marker.objects.filter(pk=marker_id,
                                  organisation_id=access_me(user).organisation_id).first()
    if found is None:
        raise HttpError(404, "No such marker, or not one you can see.")
    return found


def _share_out(share: Share) -> dict:
    return {"id": share.pk, "marker_id": share.marker_id, "organisation": share.organisation,
            "role": share.role, "basis": share.basis, "note": share.note,
            "shared_at": share.shared_at, "shared_by": share.shared_by.username}


@router.post("/markers/{marker_id}/shares",
             response={201: ShareOut, **refusals(400, 403, 404)},
             summary="Record that a marker was shared outside the team (PRE-03)")
def record_share(request, marker_id: int, payload: ShareIn):
    marker = _marker(request.user, marker_id)
    try:
        share = actions.do_record_share(marker, actor=request.user, **payload.dict())
    except actions.MarkerError as error:
        raise HttpError(400, str(error)) from None
    return Status(201, _share_out(share))


@router.get("/markers/{marker_id}/shares",
            response={200: list[ShareOut], **refusals(400, 403, 404)},
            summary="The information-sharing log of a marker (PRE-03)")
def list_shares(request, marker_id: int):
    marker = _marker(request.user, marker_id)
    return [_share_out(s) for s in marker.shares.select_related("shared_by")]


# --- FHIR exchange with the patient record (PRE-01) -------------------------------------

class FhirEntryIn(Schema):
    model_config = ConfigDict(extra="allow")  # fullUrl and the rest, checked as FHIR

    resource: dict[str, Any] = Field(..., description="A UK Core Flag (see docs/api.md)")


class FhirBundleIn(Schema):
    """A FHIR Bundle of Flags. The schema states its outline; each Flag is checked as
    FHIR and by the register's rules, and a refusal names every bad entry."""

    model_config = ConfigDict(extra="allow")

    resourceType: Literal["Bundle"]
    type: str = Field(..., description="The Bundle's type, such as collection")
    entry: list[FhirEntryIn] = Field(..., min_length=1, max_length=fhir.MAX_IMPORT)


class FhirBundleOut(Schema):
    model_config = ConfigDict(extra="allow")

    resourceType: Literal["Bundle"]
    type: Literal["collection"]
    timestamp: str
    entry: list[dict[str, Any]] = Field(..., description='Each {"resource": a UK Core Flag}')


class FhirImportOut(Schema):
    created: int
    ids: list[int]


class FhirImportRefused(BadRequest):
    """A bundle refused whole: ``problems`` has one line for each bad entry."""

    problems: list[str] = []


@router.get("/markers/fhir", response={200: FhirBundleOut, **refusals(403)},
            summary="The register's live markers as a FHIR Bundle of UK Core Flags; every "
                    "marker exported is an audited read")
def export_markers(request):
    if not perms.can_anywhere(request.user, perms.VIEW, MARKER):
        raise HttpError(403, "The register is the security manager's.")
    me = access_me(request.user)
    found = list(Marker.objects.filter(organisation_id=me.organisation_id,
                                       state=Marker.State.ACTIVE, ended_at__isnull=True)
                 [:fhir.MAX_ENTRIES])
    actions.audit_read(found, actor=request.user, why="exported as FHIR")
    return fhir.export_bundle(found)


@router.post("/markers/fhir",
             response={201: FhirImportOut, 400: FhirImportRefused, **refusals(403, 413)},
             summary="Import risk markers from a FHIR Bundle of UK Core Flags: all of them, "
                     "or none and the reason for each bad entry")
def import_markers(request, payload: FhirBundleIn):
    if not perms.can_anywhere(request.user, perms.CHANGE, MARKER):
        raise HttpError(403, "Only the security manager adds markers to the register.")
    me = access_me(request.user)
    try:
        added = fhir.import_bundle(me.organisation, payload.model_dump(), actor=request.user)
    except fhir.ImportRefused as refused:
        return Status(400, {"detail": str(refused), "problems": refused.problems})
    return Status(201, {"created": len(added), "ids": [marker.pk for marker in added]})


@router.get("/markers/{marker_id}", response={200: MarkerOut, **refusals(400, 404)},
            summary="One marker: for the security manager, its owner, or a worker with a "
                    "visit to its person or place; audited")
def get_marker(request, marker_id: int):
    return marker_out(access.access_marker(request.user, marker_id))


class MarkerReviewIn(Schema):
    review_on: date = Field(description="The next review date, in the future")
    nature: str = Field("", max_length=5000, description="Empty: unchanged")
    advice: str = Field("", max_length=5000, description="Empty: unchanged")


@router.post("/markers/{marker_id}/review",
             response={200: MarkerOut, **refusals(400, 403, 404)},
             summary="Review a marker: a new review date, and its nature and advice brought "
                     "up to date (PRE-01)")
def review_marker(request, marker_id: int, payload: MarkerReviewIn):
    marker = access.access_marker(request.user, marker_id)
    if not access.may_review(request.user, marker):
        raise HttpError(403, "Only the marker's owner or the security manager reviews it.")
    try:
        return marker_out(actions.do_review_marker(marker, actor=request.user,
                                                   **payload.dict()))
    except actions.MarkerError as error:
        raise HttpError(400, str(error)) from None


class ProposalDecisionIn(Schema):
    accept: bool
    category: one_of(Category, blank=True) = Field("", description="Empty: as proposed")
    advice: str = Field("", max_length=5000, description="Needed to accept")
    review_on: date | None = Field(None, description="Needed to accept; in the future")


@router.post("/markers/{marker_id}/decision",
             response={200: MarkerOut, **refusals(400, 403, 404)},
             summary="Accept a marker proposed from a visit into the register, or decline "
                     "it (PRE-06)")
def decide_proposal(request, marker_id: int, payload: ProposalDecisionIn):
    marker = access.access_marker(request.user, marker_id)
    if not perms.can_anywhere(request.user, perms.CHANGE, MARKER):
        raise HttpError(403, "Only the security manager decides on a proposed marker.")
    try:
        return marker_out(actions.do_decide_proposal(marker, actor=request.user,
                                                     **payload.dict()))
    except actions.MarkerError as error:
        raise HttpError(400, str(error)) from None
