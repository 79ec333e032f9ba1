"""Who and where, written one way, so that the same person or place typed differently
is found: a risk marker and a visit are matched on these (PRE-01, PRE-04).

- An NHS number is ten digits with a valid check digit (the ``nhs-number`` package);
  spaces and dashes are dropped.
- A postcode is a UK postcode in capitals with one space before its last three
  characters (``pe131ab`` and ``PE13  1AB`` are both ``PE13 1AB``).
- An address line becomes its house (the number, with a letter if it has one, such as
  ``14a``, or else its name) and its flat (``Flat 2``, ``Apartment 2``, ``2/14`` …).
  Street words are left out: the postcode already says the street.

A marker for a place matches a visit at the same postcode and house, and the same flat
unless the marker is for the whole building. Two UPRNs, when both are known, decide.
"""

import re
from dataclasses import dataclass

import nhs_number


class NotUnderstood(ValueError):
    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.field = field


POSTCODE = re.compile(r"^([A-Z]{1,2}[0-9][0-9A-Z]?)([0-9][A-Z]{2})$")
FLAT = re.compile(r"\b(?:flat|apartment|apt|unit|room|maisonette)\s*([0-9]+[a-z]?|[a-z])\b")
SLASHED = re.compile(r"^([0-9]+[a-z]?)\s*/\s*([0-9]+[a-z]?)\b")  # 2/14: flat 2 of 14
NUMBER = re.compile(r"\b([0-9]+[a-z]?)\b")
STREET_WORDS = {"road", "rd", "street", "st", "lane", "ln", "avenue", "ave", "close", "cl",
                "drive", "dr", "way", "court", "ct", "place", "pl", "crescent", "cres",
                "gardens", "gdns", "terrace", "walk", "grove", "hill", "square", "sq"}


def nhs(text: str) -> str:
    """The NHS number as ten digits, or ``NotUnderstood``."""
    digits = re.sub(r"[\s-]", "", text or "")
    if not digits:
        return ""
    if not (digits.isdigit() and len(digits) == 10 and nhs_number.is_valid(digits)):
        raise NotUnderstood("That is not a valid NHS number: it has ten digits, the last a "
                            "check digit.", "nhs_number")
    return digits


def postcode(text: str) -> str:
    """The UK postcode as ``PE13 1AB``, or ``NotUnderstood``."""
    squeezed = re.sub(r"\s+", "", (text or "").upper())
    if not squeezed:
        return ""
    found = POSTCODE.match(squeezed)
    if found is None:
        raise NotUnderstood("That is not a UK postcode, such as PE13 1AB.", "postcode")
    return f"{found.group(1)} {found.group(2)}"


@dataclass(frozen=True)
class Place:
    house: str
    flat: str


def place(address: str) -> Place:
    """The house and flat of an address line, however it is typed."""
    text = re.sub(r"[^\w/ ]+", " ", (address or "").lower())
    text = re.sub(r"\s+", " ", text).strip()
    flat = ""
    slashed = SLASHED.match(text)
    if slashed:
        flat, text = slashed.group(1), text[slashed.end():].strip()
        text = f"{slashed.group(2)} {text}"
    else:
        found = FLAT.search(text)
        if found:
            flat = found.group(1)
            text = (text[:found.start()] + " " + text[found.end():]).strip()
    number = NUMBER.search(text)
    if number:
        return Place(number.group(1), flat)
    words = [w for w in text.split() if w not in STREET_WORDS]
    # A house with a name and no number: its name, before the street's name.
    name = text.split(" ")
    cut = next((i for i, w in enumerate(name) if w in STREET_WORDS), len(name))
    house = " ".join(name[:max(cut - 1, 1)] if cut < len(name) else words)
    return Place(house, flat)


def same_place(marker_house: str, marker_flat: str, whole_building: bool,
               visit: Place) -> bool:
    if not marker_house or marker_house != visit.house:
        return False
    return whole_building or marker_flat == visit.flat
