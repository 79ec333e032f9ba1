from datetime import date, datetime

from ninja import Schema


class Error(Schema):
    detail: str


class RoleOut(Schema):
    role: str
    scope: str
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
