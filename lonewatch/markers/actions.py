"""The risk marker register and the pre-visit check (PRE-01, PRE-02, PRE-04)."""

from dataclasses import dataclass, field
from datetime import date, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from lonewatch import clock
from lonewatch.core import audit, places
from lonewatch.markers import history
from lonewatch.markers.models import Category, Marker, Share
from lonewatch.notify import actions as notify
from lonewatch.notify.messages import link
from lonewatch.notify.models import Channel
from lonewatch.org.models import Organisation
from lonewatch.visits.actions import WAYS_OUT
from lonewatch.visits.hooks import Risk
from lonewatch.visits.models import Flag, Session
from lonewatch.worker.claim import claim

# PRE-04: markers of these categories make a visit high risk.
HIGH_RISK = {Category.VIOLENT_INDICATOR, Category.VIOLENT_SCHEME, Category.WEAPONS,
             Category.OTHERS_PRESENT, Category.SUBSTANCES, Category.ANIMALS}


class MarkerError(ValueError):
    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


def do_add_marker(organisation: Organisation, *, actor, category: str, nature: str,
                  advice: str, source: str, review_on: date, nhs_number: str = "",
                  local_id: str = "", postcode: str = "", house: str = "", flat: str = "",
                  whole_building: bool = False, uprn: str = "") -> Marker:
    try:
        nhs = places.nhs(nhs_number)
        code = places.postcode(postcode)
    except places.NotUnderstood as error:
        raise MarkerError(str(error), error.field) from None
    if category not in Category.values:
        raise MarkerError(f"category must be one of {', '.join(Category.values)}",
                          "category")
    local_id, uprn = (local_id or "").strip()[:60], re_digits(uprn)
    where = places.place(house) if house.strip() else None
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
    flat_norm = places.place(f"flat {flat}").flat if (flat or "").strip() else ""
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
    markers: list[Marker] = field(default_factory=list)
    incidents: list[str] = field(default_factory=list)  # the place's history
    requires: list[str] = field(default_factory=list)
    interval_seconds: int | None = None  # the longest check-in interval the risks allow
    # Markers this reader has no need to see (no visit there): only their category shows.
    withheld: set[int] = field(default_factory=set)

    @property
    def reasons(self) -> list[str]:
        today = timezone.localdate(clock.now())
        said = []
        for marker in self.markers:
            if marker.pk in self.withheld:
                said.append(f"{marker.get_category_display()}: plan the visit to read this "
                            "marker and its advice")
                continue
            expired = " (past its review date: ask the security manager)" \
                if marker.review_on < today else ""
            said.append(f"{marker.get_category_display()}: {marker.nature}{expired}")
        return said + self.incidents

    @property
    def shown(self) -> list[Marker]:
        return [m for m in self.markers if m.pk not in self.withheld]


def matching_markers(organisation_id: int, *, nhs_number: str = "", local_id: str = "",
                     postcode: str = "", address: str = "", uprn: str = "") -> list[Marker]:
    """The live markers for this person or place (PRE-04): the person's first, then the
    place's. One query reads both (the markers for the person, and every live marker at
    the postcode); which of the postcode's are for this very place is decided here."""
    nhs = places.nhs(nhs_number)
    code = places.postcode(postcode)
    local_id = local_id.strip()
    who = Q(pk__in=[])
    if nhs:
        who |= Q(nhs_number=nhs)
    if local_id:
        who |= Q(local_id=local_id)
    live = Marker.objects.filter(organisation_id=organisation_id, state=Marker.State.ACTIVE,
                                 ended_at__isnull=True)
    read = list(live.filter(who | Q(postcode=code) if code else who))
    here = places.place(address) if code else None
    uprn = re_digits(uprn)
    theirs = [m for m in read if for_person(m, nhs, local_id)]
    return theirs + [m for m in read if not for_person(m, nhs, local_id) and
                     here is not None and at_place(m, code, here, uprn)]


def for_person(marker: Marker, nhs: str, local_id: str) -> bool:
    return bool(nhs and marker.nhs_number == nhs or local_id and marker.local_id == local_id)


def at_place(marker: Marker, code: str, here: places.Place, uprn: str = "") -> bool:
    """Is the marker for this place? The same postcode and house, and the same flat unless
    the marker is for the whole building; two UPRNs, when both are known, decide."""
    if marker.postcode != code:
        return False
    if uprn and marker.uprn == uprn and (marker.whole_building or marker.flat == here.flat):
        return True
    return places.same_place(marker.house, marker.flat, marker.whole_building, here)


def precheck(organisation_id: int, *, actor, nhs_number: str = "", local_id: str = "",
             postcode: str = "", address: str = "", uprn: str = "",
             why: str = "shown for a visit being planned") -> Precheck:
    """PRE-04: the visit's risk, low or high, with the reasons: the markers for the person
    and the place, and the place's history (withdrawals and alarms there). Every marker
    read is audited. Who may read a marker whole is ``markers.access``'s to say."""
    try:
        markers = matching_markers(organisation_id, nhs_number=nhs_number, local_id=local_id,
                                   postcode=postcode, address=address, uprn=uprn)
        code = places.postcode(postcode)
    except places.NotUnderstood as error:
        raise MarkerError(str(error), error.field) from None
    incidents = history.at_place(organisation_id, code, address, actor=actor) if code else []
    high = any(m.category in HIGH_RISK for m in markers) or bool(incidents)
    audit_read(markers, actor=actor, why=why)
    caps = [settings.HIGH_RISK_CHECKIN_MINUTES[m.category] * 60 for m in markers
            if m.category in settings.HIGH_RISK_CHECKIN_MINUTES]
    return Precheck("high" if high else "low", markers, incidents,
                    list(WAYS_OUT) if high else [], min(caps) if caps else None)


def visit_risk(worker, *, actor, nhs_number: str, service_user_ref: str, postcode: str,
               address: str, why: str) -> Risk:
    """The ``visits.hooks.visit_risk`` handler: the pre-visit check of a visit being
    planned, moved or started."""
    found = precheck(worker.organisation_id, actor=actor, nhs_number=nhs_number,
                     local_id=service_user_ref, postcode=postcode, address=address, why=why)
    return Risk(found.risk, found.reasons, found.interval_seconds,
                [m.pk for m in found.markers])


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


def do_review_marker(marker: Marker, *, actor, review_on: date, nature: str = "",
                     advice: str = "") -> Marker:
    """PRE-01: the owner (or the security manager) reviews a marker: a new review date,
    and the nature and advice brought up to date if need be. Until then a marker past
    its review date is shown as expired and its owner is reminded."""
    if review_on is None or review_on <= timezone.localdate(clock.now()):
        raise MarkerError("Give a review date in the future.", "review_on")
    with transaction.atomic():
        locked = Marker.objects.select_for_update().get(pk=marker.pk)
        if locked.state != Marker.State.ACTIVE or locked.ended_at is not None:
            raise MarkerError("Only a marker in force is reviewed.", "state")
        before = {"review_on": locked.review_on.isoformat(), "nature": locked.nature,
                  "advice": locked.advice}
        locked.review_on, locked.reviewed_at, locked.expiry_told_on = review_on, \
            clock.now(), None
        locked.nature = (nature or "").strip()[:5000] or locked.nature
        locked.advice = (advice or "").strip()[:5000] or locked.advice
        locked.save()
        audit.record("marker.review", actor=actor, obj=locked,
                     summary=f"{locked.get_category_display()} marker reviewed",
                     before=before, after={"review_on": review_on.isoformat(),
                                           "nature": locked.nature, "advice": locked.advice})
    return locked


def tell_owners_of_expired(limit: int = 100) -> int:
    """PRE-01: a marker past its review date is flagged to its owner, and again each week
    until it is reviewed."""
    today = timezone.localdate(clock.now())
    with transaction.atomic():
        ids = claim(Marker.objects.filter(state=Marker.State.ACTIVE, ended_at__isnull=True,
                                          review_on__lt=today)
                    .filter(Q(expiry_told_on__isnull=True)
                            | Q(expiry_told_on__lte=today - timedelta(days=7)))
                    .order_by("review_on"), limit=limit, update={"expiry_told_on": today})
        for marker in Marker.objects.filter(pk__in=ids).select_related("raised_by__person"):
            owner = getattr(marker.raised_by, "person", None)
            if owner is None:
                continue
            notify.queue([owner], [Channel.IN_APP, Channel.EMAIL],
                         subject="A risk marker is past its review date",
                         body=f"The {marker.get_category_display().lower()} marker you raised "
                              f"was due for review on {marker.review_on:%d %B %Y}. It is "
                              "shown as expired until you review it: keep it with a new "
                              "review date, or ask the security manager to end it.",
                         link=link("marker", marker.pk), purpose="marker_expired",
                         organisation_id=marker.organisation_id, about=("marker", marker.pk))
            audit.record("marker.expired", actor=None, obj=marker,
                         summary=f"{marker.get_category_display()} marker past its review "
                                 f"date: {owner.full_name} told")
    return len(ids)


# PRE-06: the marker category a warning sign suggests, for a proposal.
SIGN_CATEGORY = {"alcohol": Category.SUBSTANCES, "drugs": Category.SUBSTANCES,
                 "aggression": Category.VIOLENT_INDICATOR, "animals": Category.ANIMALS,
                 "others_present": Category.OTHERS_PRESENT, "weapon": Category.WEAPONS,
                 "confusion": Category.OTHER}


def do_propose_marker(session: Session, *, actor, note: str = "") -> Marker:
    """PRE-06: the warning signs noted on a visit proposed as a new marker for its person
    and place, for the security manager to accept or decline."""
    if getattr(actor, "person", None) is None or session.worker_id != actor.person.pk:
        raise PermissionDenied("Only the worker who made the visit proposes a marker from it.")
    signs = list(dict.fromkeys(session.flags.values_list("sign", flat=True)))
    if not signs:
        raise MarkerError("Note the warning signs first: a proposal is made from them.",
                          "signs")
    where = places.place(session.address)
    names = ", ".join(Flag.Sign(s).label.lower() for s in signs)
    with transaction.atomic():
        marker = Marker.objects.create(
            organisation_id=session.worker.organisation_id, nhs_number=session.nhs_number,
            local_id="" if session.nhs_number else session.service_user_ref,
            postcode=session.postcode, house=where.house if session.postcode else "",
            flat=where.flat if session.postcode else "", category=SIGN_CATEGORY[signs[0]],
            nature=f"Warning signs on a visit on {clock.now():%d %B %Y}: {names}. "
                   f"{(note or '').strip()[:1000]}".strip(),
            advice="To be given by the security manager when accepted.",
            source=f"Visit by {session.worker.full_name}", raised_by=actor,
            raised_at=clock.now(), review_on=timezone.localdate(clock.now()) +
            timedelta(days=90), state=Marker.State.PROPOSED, proposed_from=session)
        audit.record("marker.propose", actor=actor, obj=marker,
                     summary=f"Marker proposed from a visit: {names}",
                     after={"session": session.pk, "signs": signs})
    return marker


def do_decide_proposal(marker: Marker, *, actor, accept: bool, category: str = "",
                       advice: str = "", review_on: date | None = None) -> Marker:
    """PRE-06: the security manager accepts a proposed marker (with its category, advice
    and review date) into the register, or declines it."""
    with transaction.atomic():
        locked = Marker.objects.select_for_update().get(pk=marker.pk)
        if locked.state != Marker.State.PROPOSED:
            raise MarkerError("This marker is not waiting for a decision.", "state")
        if accept:
            if category and category not in Category.values:
                raise MarkerError(f"category must be one of {', '.join(Category.values)}",
                                  "category")
            if not (advice or "").strip():
                raise MarkerError("Give practical advice for whoever visits.", "advice")
            if review_on is None or review_on <= timezone.localdate(clock.now()):
                raise MarkerError("Give a review date in the future.", "review_on")
            locked.category = category or locked.category
            locked.advice, locked.review_on = advice.strip()[:5000], review_on
            locked.state = Marker.State.ACTIVE
        else:
            locked.state, locked.ended_at = Marker.State.DECLINED, clock.now()
        locked.save()
        audit.record("marker.accept" if accept else "marker.decline", actor=actor,
                     obj=locked, summary=f"Proposed {locked.get_category_display().lower()} "
                                         f"marker {'accepted' if accept else 'declined'}")
    return locked
