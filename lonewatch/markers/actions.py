"""The risk marker register and the pre-visit check (PRE-01, PRE-02, PRE-04)."""

from dataclasses import dataclass, field
from datetime import date

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from lonewatch import clock
from lonewatch.core import audit
from lonewatch.markers import matching
from lonewatch.markers.models import Category, Marker, Share
from lonewatch.org.models import Organisation

# PRE-04: markers of these categories make a visit high risk.
HIGH_RISK = {Category.VIOLENT_INDICATOR, Category.VIOLENT_SCHEME, Category.WEAPONS,
             Category.OTHERS_PRESENT, Category.SUBSTANCES, Category.ANIMALS}
# The ways a high-risk visit may go ahead (PRE-04).
WAYS_OUT = ["accompanied", "neutral_location", "reschedule", "manager_exception"]


class MarkerError(ValueError):
    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


def do_add_marker(organisation: Organisation, *, actor, category: str, nature: str,
                  advice: str, source: str, review_on: date, nhs_number: str = "",
                  local_id: str = "", postcode: str = "", house: str = "", flat: str = "",
                  whole_building: bool = False, uprn: str = "") -> Marker:
    try:
        nhs = matching.nhs(nhs_number)
        code = matching.postcode(postcode)
    except matching.NotUnderstood as error:
        raise MarkerError(str(error), error.field) from None
    if category not in Category.values:
        raise MarkerError(f"category must be one of {', '.join(Category.values)}",
                          "category")
    local_id, uprn = (local_id or "").strip()[:60], re_digits(uprn)
    where = matching.place(house) if house.strip() else None
    if not (nhs or local_id or (code and where)):
        raise MarkerError("Say who or where the risk is: an NHS number or local identifier, "
                          "or a postcode with a house number or name.", "nhs_number")
    if (house.strip() and not code) or (code and not house.strip()):
        raise MarkerError("A place needs both its postcode and its house number or name.",
                          "postcode" if not code else "house")
    texts = {"nature": nature, "advice": advice, "source": source}
    for name, value in texts.items():
        if not (value or "").strip():
            raise MarkerError(f"Give the {name} of the risk." if name != "advice" else
                              "Give practical advice for whoever visits.", name)
    if review_on is None or review_on <= timezone.localdate(clock.now()):
        raise MarkerError("Give a review date in the future.", "review_on")
    flat_norm = matching.place(f"flat {flat}").flat if (flat or "").strip() else ""
    with transaction.atomic():
        marker = Marker.objects.create(
            organisation=organisation, nhs_number=nhs, local_id=local_id, postcode=code,
            house=where.house if where else "", flat=flat_norm or (where.flat if where else ""),
            whole_building=whole_building, uprn=uprn, category=category,
            nature=nature.strip()[:5000], advice=advice.strip()[:5000],
            source=source.strip()[:200], raised_by=actor, raised_at=clock.now(),
            review_on=review_on)
        audit.record("marker.add", actor=actor, obj=marker,
                     summary=f"{marker.get_category_display()} marker added",
                     after={"category": category, "postcode": code, "house": marker.house,
                            "flat": marker.flat, "whole_building": whole_building,
                            "review_on": review_on.isoformat()})
    return marker


def re_digits(text: str) -> str:
    return "".join(ch for ch in (text or "") if ch.isdigit())[:12]


@dataclass
class Precheck:
    risk: str
    reasons: list[str] = field(default_factory=list)
    markers: list[Marker] = field(default_factory=list)
    requires: list[str] = field(default_factory=list)


def matching_markers(organisation_id: int, *, nhs_number: str = "", local_id: str = "",
                     postcode: str = "", address: str = "", uprn: str = "") -> list[Marker]:
    """The live markers for this person or place (PRE-04)."""
    nhs = matching.nhs(nhs_number)
    code = matching.postcode(postcode)
    who = Q(pk__in=[])
    if nhs:
        who |= Q(nhs_number=nhs)
    if local_id.strip():
        who |= Q(local_id=local_id.strip())
    found = list(Marker.objects.filter(who, organisation_id=organisation_id,
                                       ended_at__isnull=True))
    if code:
        visit = matching.place(address)
        uprn = re_digits(uprn)
        for marker in Marker.objects.filter(organisation_id=organisation_id, postcode=code,
                                            ended_at__isnull=True).exclude(
                                                pk__in=[m.pk for m in found]):
            if (uprn and marker.uprn and uprn == marker.uprn and
                    (marker.whole_building or marker.flat == visit.flat)) or \
                    matching.same_place(marker.house, marker.flat, marker.whole_building,
                                        visit):
                found.append(marker)
    return found


def precheck(organisation_id: int, *, actor, nhs_number: str = "", local_id: str = "",
             postcode: str = "", address: str = "", uprn: str = "") -> Precheck:
    """PRE-04: the visit's risk, low or high, with the reasons and the markers; every
    marker shown is an audited read."""
    try:
        markers = matching_markers(organisation_id, nhs_number=nhs_number, local_id=local_id,
                                   postcode=postcode, address=address, uprn=uprn)
    except matching.NotUnderstood as error:
        raise MarkerError(str(error), error.field) from None
    today = timezone.localdate(clock.now())
    reasons = []
    for marker in markers:
        expired = " (past its review date: ask the security manager)" \
            if marker.review_on < today else ""
        reasons.append(f"{marker.get_category_display()}: {marker.nature}{expired}")
    high = any(m.category in HIGH_RISK for m in markers)
    audit_read(markers, actor=actor, why="shown for a visit being planned")
    return Precheck("high" if high else "low", reasons, markers,
                    list(WAYS_OUT) if high else [])


def audit_read(markers: list[Marker], *, actor, why: str) -> None:
    """PRE-01: every read of a marker is audited, one event per marker."""
    if not markers:
        return
    with transaction.atomic():
        for marker in markers:
            audit.record("marker.read", actor=actor, obj=marker,
                         summary=f"{marker.get_category_display()} marker {why}")


def do_record_share(marker: Marker, *, actor, organisation: str, role: str, basis: str,
                    note: str = "") -> Share:
    """PRE-03: record that a marker was shared outside the team."""
    organisation, role = (organisation or "").strip(), (role or "").strip()
    if not organisation:
        raise MarkerError("Say which organisation it was shared with.", "organisation")
    if not role:
        raise MarkerError("Say the role of the person it was shared with.", "role")
    if basis not in Share.Basis.values:
        raise MarkerError(f"basis must be one of {', '.join(Share.Basis.values)}", "basis")
    with transaction.atomic():
        share = Share.objects.create(marker=marker, organisation=organisation[:200],
                                     role=role[:200], basis=basis,
                                     note=(note or "").strip()[:500], shared_at=clock.now(),
                                     shared_by=actor)
        audit.record("marker.share", actor=actor, obj=marker,
                     summary=f"{marker.get_category_display()} marker shared with "
                             f"{share.role}, {share.organisation}: "
                             f"{share.get_basis_display()}"[:300],
                     after={"share": share.pk, "organisation": share.organisation,
                            "role": share.role, "basis": basis})
    return share
