"""The one check of a worker's PINs, for check-out and for cancelling an alarm
(MOV-02, MOV-04, Q-SEC).

``check`` says whether what was entered is the PIN, the duress PIN or neither. It
always does the same work: both stored hashes are checked, and a stand-in hash takes
the place of a PIN that is not set, so the time an answer takes does not tell a
duress PIN from the real one, nor a worker with a duress PIN from one without.

Wrong PINs are kept as ``PinFailure`` rows. Five within 15 minutes, at check-out and
alarm cancel together, lock both until the oldest of them is 15 minutes old.
"""

import enum
import functools
import secrets
from datetime import datetime, timedelta

from django.contrib.auth.hashers import check_password, get_hasher, make_password

from lonewatch.org.models import Person, PinFailure

PIN_ATTEMPTS = 5
PIN_LOCK = timedelta(minutes=15)
LOCKED = ("Too many wrong PINs. Wait 15 minutes, then try again. Keep checking in "
          "meanwhile. If you are in danger, call 999.")


class Pin(enum.Enum):
    NORMAL = "normal"
    DURESS = "duress"
    WRONG = "wrong"


@functools.cache
def _stand_in(algorithm: str) -> str:
    """A hash of a random secret with the current hasher: checking a PIN against it
    costs what checking a real one does, and never matches."""
    return make_password(secrets.token_urlsafe(24), hasher=algorithm)


def check(person: Person, pin) -> Pin:
    """NORMAL, DURESS or WRONG; the same work whichever it is (MOV-04)."""
    entered = str(pin or "")
    stand_in = _stand_in(get_hasher().algorithm)
    # Both checks run, whatever the first one found.
    normal = check_password(entered, person.pin_hash or stand_in)
    duress = check_password(entered, person.duress_pin_hash or stand_in)
    if normal and person.pin_hash:
        return Pin.NORMAL
    if duress and person.duress_pin_hash:
        return Pin.DURESS
    return Pin.WRONG


def locked(person: Person, now: datetime) -> bool:
    """Has the worker entered too many wrong PINs lately (check-out and cancel alike)?"""
    return PinFailure.objects.filter(person=person, at__gt=now - PIN_LOCK).count() \
        >= PIN_ATTEMPTS


def record_failure(person: Person, *, attempt: str, at: datetime) -> PinFailure:
    """Keep a wrong PIN. The caller writes it after the transaction of the change it
    refused, so that refusing the change does not roll the failure back with it."""
    return PinFailure.objects.create(person=person, at=at, attempt=attempt)
