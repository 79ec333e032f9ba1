"""What the API takes and gives, shared by its modules.

The published schema (/api/openapi.json) is built from these declarations, and the same
declarations check every request before a view runs, so the schema cannot promise what
the API refuses or leave out what it refuses (Q-REL). Where an action already checks a
value in words people know, the edge runs that same check first, so the refusal reads
as it always has. Choice fields take their values from the models' choices, bounds come
from the constants or settings the actions use: nothing here is copied.
"""

from datetime import date, datetime
from typing import Annotated, Any, Literal

from django.conf import settings
from django.db import models
from ninja import Schema
from pydantic import AfterValidator, BeforeValidator, Field

from lonewatch.org.roles import Role, Scope
from lonewatch.visits.actions import (
    ACCURACY_M,
    LATITUDE,
    LONGITUDE,
    WAYS_OUT,
    Bounds,
    SessionError,
    check_interval,
)

# What the schema can say of an NHS number and a postcode (the check digit and the rest
# are checked by lonewatch.core.places).
NHS_NUMBER = r"^[0-9 -]*$"
POSTCODE = r"^\s*([A-Za-z]{1,2}[0-9][0-9A-Za-z]?\s*[0-9][A-Za-z]{2}\s*)?$"

# Record ids are 64-bit in the database: a larger number is refused here, before a
# query that the database would fail on.
MAX_ID = 2**63 - 1
Id = Annotated[int, Field(ge=1, le=MAX_ID, description="A record's id")]


def one_of(choices: type[models.TextChoices], *, but=(), blank: bool = False) -> Any:
    """A string that must be one of a model's choice values (less ``but``; with "" for
    "not yet" when ``blank``): the schema's enum is the model's own list."""
    values = [value for value in choices.values if value not in but]
    return Literal[tuple(values + [""] if blank else values)]


def within(bounds: Bounds) -> Any:
    """A number within an action's bounds, refused in that action's words. true and false
    are not numbers here (a position read as 1.0 is worse than none)."""

    def check(value):
        if isinstance(value, bool):
            raise SessionError(f"{bounds.name} must be a number.", bounds.field)
        if isinstance(value, int | float):
            bounds.check(value)
        return value

    return Annotated[float, Field(ge=bounds.low, le=bounds.high), BeforeValidator(check)]


def said(missing: str, *, max_length: int | None = None) -> Any:
    """Text with something in it besides spaces; without, the refusal says ``missing``."""

    def check(value):
        if isinstance(value, str) and not value.strip():
            raise SessionError(missing)
        return value

    return Annotated[str, Field(pattern=r"\S", max_length=max_length), BeforeValidator(check)]


def _interval_bounds(schema: dict) -> None:
    # Read from the settings each time the schema is built, as check_interval reads them
    # each time it checks.
    schema["minimum"] = settings.MIN_CHECKIN_INTERVAL_SECONDS
    schema["maximum"] = settings.MAX_CHECKIN_INTERVAL_SECONDS


Latitude = within(LATITUDE)
Longitude = within(LONGITUDE)
AccuracyM = within(ACCURACY_M)
IntervalSeconds = Annotated[int, AfterValidator(check_interval),
                            Field(json_schema_extra=_interval_bounds)]


class Error(Schema):
    """A refusal. ``detail`` says what was wrong, in words to show a person."""

    detail: str


class Problem(Schema):
    """One thing wrong with a request: where (``loc``: "body", "query" or "path", then
    the field), what (``msg``) and its kind (``type``)."""

    loc: list[str | int]
    msg: str
    type: str
    ctx: dict[str, Any] = {}


class BadRequest(Error):
    """A request refused for what it says. When it does not match this schema,
    ``errors`` lists each problem; a refusal by Lonewatch's own rules has ``detail`` only."""

    errors: list[Problem] = []


class Conflict(Error):
    """The record's state does not allow it. PRE-04: a high-risk visit that cannot start
    alone also says why (``reasons``) and what would let it (``requires``)."""

    reasons: list[str] = []
    requires: list[Literal[tuple(WAYS_OUT)]] = []


ANSWERS = {
    400: BadRequest,  # the request does not match the schema, or a rule refuses it
    401: Error,  # no token, or one that is unknown, revoked or of a deactivated login
    403: Error,  # the caller may see the record but not do this
    404: Error,  # no such record, or not one the caller may see
    409: Conflict,  # the record's state does not allow it (now)
    410: Error,  # the record was there and is gone for good (a destroyed recording)
    413: Error,
    415: Error,
}


def refusals(*statuses: int) -> dict[int, type[Error]]:
    """The refusals an operation can answer with: 401 always (every operation needs a
    token), and ``statuses``, each with its documented body."""
    return {status: ANSWERS[status] for status in sorted({401, *statuses})}


class RoleOut(Schema):
    role: one_of(Role)
    scope: one_of(Scope)
    team_id: int | None = None
    directorate_id: int | None = None


class PersonSummary(Schema):
    id: int
    username: str
    full_name: str
    job_title: str
    team_id: int | None
    team: str | None


class Contact(Schema):
    mobile: str
    email: str
    vehicle_description: str
    description: str
    known_breaks: str


class Fitness(Schema):
    unable_to_work_alone: bool
    review_date: date | None


class PersonOut(PersonSummary):
    line_manager_id: int | None
    buddy_id: int | None
    buddy_accepted: bool
    roles: list[RoleOut]
    contact: Contact | None = None
    fitness: Fitness | None = None


class NextOfKinOut(Schema):
    name: str
    relationship: str
    phone: str


class TeamOut(Schema):
    id: int
    name: str
    directorate_id: int
    directorate: str


class TokenOut(Schema):
    id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    # Q-SEC: a privileged token acts with its owner's privileged roles until it expires.
    privileged: bool
    expires_at: datetime | None
