"""Risk markers as FHIR UK Core ``Flag`` resources (PRE-01), so that a trust can feed the
register from its electronic patient record, which keeps its alerts as Flags, and send
the register back, with nothing typed twice.

One marker is one Flag:

- ``id``: the marker's id; ``meta.profile``: UK Core Flag (PROFILE).
- ``status``: ``active`` for a marker in force, ``inactive`` otherwise.
- ``category``: HL7's flag category ``safety``, and the marker's category as a code of
  CATEGORY (the codes and displays of ``Category``).
- ``code.text``: the nature of the risk.
- ``period``: ``start`` when it was raised, ``end`` its review date.
- ``subject``: the patient, by NHS number (NHS_NUMBER) or, without one, by the local
  identifier (LOCAL_ID); for a marker about a place only, the place.
- The place: a contained ``Location`` with ``id`` ``place``, its address's ``postalCode``
  and ``line`` (the flat, if any, then the house), and the UPRN as an identifier (UPRN)
  when known. The subject refers to it (``#place``) or, when the subject is the patient,
  the PLACE extension does.
- Extensions: ADVICE and SOURCE (``valueString``), WHOLE_BUILDING (``valueBoolean``).

The models are fhir.resources' R4B ones: Flag, Location and Bundle are the same as in
R4, on which UK Core is built.
"""

from datetime import date, datetime

from django.db import transaction
from django.utils import timezone
from fhir.resources.R4B.bundle import Bundle, BundleEntry
from fhir.resources.R4B.flag import Flag
from pydantic import ValidationError

from lonewatch import clock
from lonewatch.markers import actions
from lonewatch.markers.actions import MarkerError
from lonewatch.markers.models import Marker
from lonewatch.org.models import Organisation

PROFILE = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-Flag"
FLAG_CATEGORY = "http://terminology.hl7.org/CodeSystem/flag-category"
CATEGORY = "https://lonewatch.org/fhir/CodeSystem/marker-category"
NHS_NUMBER = "https://fhir.nhs.uk/Id/nhs-number"
LOCAL_ID = "https://lonewatch.org/fhir/Id/local"
UPRN = "https://fhir.hl7.org.uk/Id/uprn"
ADVICE = "https://lonewatch.org/fhir/StructureDefinition/marker-advice"
SOURCE = "https://lonewatch.org/fhir/StructureDefinition/marker-source"
PLACE = "https://lonewatch.org/fhir/StructureDefinition/marker-place"
WHOLE_BUILDING = "https://lonewatch.org/fhir/StructureDefinition/marker-whole-building"
# The most markers exported at once.
MAX_ENTRIES = 10_000
# A bundle is imported in one transaction, and its body must fit the request size limit
# (Django's 2.5 MB, about 700 bytes a Flag): a bigger one is sent in parts.
MAX_IMPORT = 3_000


class ImportRefused(MarkerError):
    """A bundle refused whole; ``problems`` says what is wrong, ``entry[i]: why`` for each
    bad entry."""

    def __init__(self, problems: list[str]):
        super().__init__("The bundle was not imported, nothing was added. "
                         + " ".join(problems))
        self.problems = problems


# --- Export ---------------------------------------------------------------------------

def export_bundle(markers) -> dict:
    """The markers as a FHIR ``collection`` Bundle, one Flag each."""
    return {"resourceType": "Bundle", "type": "collection",
            "timestamp": clock.now().isoformat(),
            "entry": [{"resource": to_flag(marker)} for marker in markers]}


def to_flag(marker: Marker) -> dict:
    """One marker as a UK Core Flag (the mapping is in the module's docstring)."""
    live = marker.state == Marker.State.ACTIVE and marker.ended_at is None
    flag = {"resourceType": "Flag", "id": str(marker.pk), "meta": {"profile": [PROFILE]}}
    if marker.postcode:
        flag["contained"] = [_location(marker)]
    return flag | {
        "extension": _extensions(marker),
        "status": "active" if live else "inactive",
        "category": [_concept(FLAG_CATEGORY, "safety", "Safety"),
                     _concept(CATEGORY, marker.category, marker.get_category_display())],
        "code": {"text": marker.nature},
        "subject": _subject(marker),
        "period": {"start": marker.raised_at.isoformat(),
                   "end": marker.review_on.isoformat()},
    }


def _concept(system: str, code: str, display: str) -> dict:
    return {"coding": [{"system": system, "code": code, "display": display}]}


def _subject(marker: Marker) -> dict:
    for system, value in ((NHS_NUMBER, marker.nhs_number), (LOCAL_ID, marker.local_id)):
        if value:
            return {"type": "Patient", "identifier": {"system": system, "value": value}}
    return {"type": "Location", "reference": "#place"}


def _location(marker: Marker) -> dict:
    lines = ([f"Flat {marker.flat}"] if marker.flat else []) + [marker.house]
    place = {"resourceType": "Location", "id": "place",
             "address": {"line": lines, "postalCode": marker.postcode}}
    if marker.uprn:
        place["identifier"] = [{"system": UPRN, "value": marker.uprn}]
    return place


def _extensions(marker: Marker) -> list[dict]:
    found = [{"url": ADVICE, "valueString": marker.advice},
             {"url": SOURCE, "valueString": marker.source}]
    if marker.postcode and (marker.nhs_number or marker.local_id):
        found.append({"url": PLACE, "valueReference": {"reference": "#place"}})
    if marker.whole_building:
        found.append({"url": WHOLE_BUILDING, "valueBoolean": True})
    return found


# --- Import ---------------------------------------------------------------------------

def import_bundle(organisation: Organisation, bundle: dict, *, actor) -> list[Marker]:
    """A marker for every Flag in ``bundle``, or none at all: a bundle partly imported
    would leave the patient record's sender unsure which Flags to send again.

    The checks are do_add_marker's own (one rule, one place): every entry is added in one
    transaction, each refusal is noted, and any refusal rolls them all back."""
    problems: list[tuple[int, str]] = []
    added = []
    with transaction.atomic():
        for number, entry in enumerate(_entries(bundle)):
            try:
                fields = _fields(_flag(entry))
                with transaction.atomic():
                    added.append(actions.do_add_marker(organisation, actor=actor, **fields))
            except MarkerError as error:
                problems.append((number, str(error)))
        if problems:
            raise ImportRefused([f"entry[{number}]: {why.rstrip('.')}."
                                 for number, why in problems])
    return added


def _entries(bundle: dict) -> list:
    """The entries of a bundle that is valid FHIR, or ImportRefused."""
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise ImportRefused(["This is not a FHIR Bundle."])
    entries = bundle.get("entry") or []
    if not isinstance(entries, list) or not entries:
        raise ImportRefused(["The bundle has no entries."])
    if len(entries) > MAX_IMPORT:
        raise ImportRefused([f"The bundle has more than {MAX_IMPORT:,} entries: send it in "
                             "parts."])
    try:
        Bundle.model_validate({key: value for key, value in bundle.items() if key != "entry"})
    except ValidationError as error:
        raise ImportRefused([f"The bundle is not valid FHIR: {_first(error)}."]) from None
    return entries


def _flag(entry) -> Flag:
    """The entry's Flag, checked by fhir.resources, or MarkerError saying why not."""
    resource = entry.get("resource") if isinstance(entry, dict) else None
    kind = resource.get("resourceType") if isinstance(resource, dict) else None
    if kind != "Flag":
        raise MarkerError(f"Not a Flag but {'a ' + str(kind)[:40] if kind else 'no resource'}.")
    try:
        flag = BundleEntry.model_validate(entry).resource
    except ValidationError as error:
        raise MarkerError(f"Not valid FHIR: {_first(error)}.") from None
    except (KeyError, TypeError):  # fhir.resources' answer to a resource of no known type
        raise MarkerError("Not valid FHIR: it contains a resource of no known type.") from None
    if flag.modifierExtension:  # FHIR: a modifier not understood means do not use it
        raise MarkerError("It has a modifier extension, which Lonewatch does not know.")
    return flag


def _first(error: ValidationError) -> str:
    """The first of pydantic's problems, briefly: where, then what."""
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"] if part not in ("resource", "root"))
    what = " ".join(first["msg"].split())
    return f"{where}: {what}" if where else what


def _fields(flag: Flag) -> dict:
    """do_add_marker's arguments from a Flag (do_add_marker checks them)."""
    if flag.status != "active":
        raise MarkerError("Only active flags can be imported.")
    return {"category": _category(flag), "nature": _nature(flag),
            "advice": _text(flag, ADVICE), "source": _text(flag, SOURCE),
            "review_on": _review_on(flag), **_person(flag), **_place(flag)}


def _category(flag: Flag) -> str:
    codes = [coding.code or "" for concept in flag.category or []
             for coding in concept.coding or [] if coding.system == CATEGORY]
    if not codes:
        raise MarkerError(f"It has no Lonewatch category: give a coding from {CATEGORY}.")
    return codes[0]


def _nature(flag: Flag) -> str:
    """code.text, or else the display of a coding (a patient record's own alert code)."""
    shown = [coding.display for coding in flag.code.coding or [] if coding.display]
    return flag.code.text or (shown[0] if shown else "")


def _extension(flag: Flag, url: str):
    return next((found for found in flag.extension or [] if found.url == url), None)


def _text(flag: Flag, url: str) -> str:
    found = _extension(flag, url)
    return (found.valueString or "") if found else ""


def _review_on(flag: Flag) -> date | None:
    end = flag.period.end if flag.period else None
    if isinstance(end, datetime):
        return timezone.localdate(end) if timezone.is_aware(end) else end.date()
    if end is not None and not isinstance(end, date):  # a year, or a year and month
        raise MarkerError("Give the review date (period.end) as a whole date, such as "
                          "2027-03-31.")
    return end


def _person(flag: Flag) -> dict:
    identifier = flag.subject.identifier
    system = identifier.system if identifier else None
    value = (identifier.value or "") if identifier else ""
    return {NHS_NUMBER: {"nhs_number": value}, LOCAL_ID: {"local_id": value}}.get(system, {})


def _place(flag: Flag) -> dict:
    """The contained Location the subject or the PLACE extension refers to, if any."""
    via = _extension(flag, PLACE)
    reference = (via.valueReference.reference if via and via.valueReference
                 else flag.subject.reference) or ""
    if not reference.startswith("#"):
        return {}
    location = next((found for found in flag.contained or []
                     if found.id == reference[1:] and found.get_resource_type() == "Location"),
                    None)
    if location is None or location.address is None:
        raise MarkerError(f"The place {reference} is not a contained Location with an "
                          "address.")
    house = " ".join(line for line in location.address.line or [] if line)
    longest = Marker._meta.get_field("house").max_length  # what POST /markers allows
    if len(house) > longest:
        raise MarkerError(f"The place's address lines are longer than {longest} characters.")
    uprns = [found.value for found in location.identifier or [] if found.system == UPRN]
    whole = _extension(flag, WHOLE_BUILDING)
    return {"postcode": location.address.postalCode or "", "house": house,
            "uprn": (uprns[0] or "") if uprns else "",
            "whole_building": bool(whole and whole.valueBoolean)}
