"""Import people from the CSV an HR system exports (ORG-01, ORG-02).

Columns: username, full_name, email, mobile, directorate, team, roles,
line_manager, buddy (job_title optional). ``roles`` holds role names separated
by ``;``, each optionally with a scope (``senior_manager:team``); without one
the role's usual scope applies, on the person's own team or directorate.

The whole file is checked first; if any row is wrong, every problem is
reported by line number and nothing is changed. A good file is applied in one
transaction, so re-importing it is safe: people are matched by username.

With ``invite``, each person the import creates who has an email address is sent an
invitation to set their password (ORG-06), by the worker once the import commits.
"""

import csv
import io
import re
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from lonewatch.accounts.actions import queue_invitation_in_transaction
from lonewatch.accounts.models import User
from lonewatch.core import audit
from lonewatch.org.models import Directorate, Organisation, Person, RoleMembership, Team
from lonewatch.org.phone import normalise_mobile
from lonewatch.org.roles import DEFAULT_SCOPE, Role, Scope

REQUIRED_COLUMNS = ("username", "full_name", "email", "mobile", "directorate", "team", "roles",
                    "line_manager", "buddy")
OPTIONAL_COLUMNS = ("job_title",)
USERNAME = re.compile(r"^[\w.@+-]{1,150}$")


class ImportFailed(Exception):
    def __init__(self, errors: list[str]):
        self.errors = errors
        super().__init__("\n".join(errors))


@dataclass
class Row:
    line: int
    username: str
    full_name: str
    email: str
    mobile: str
    job_title: str
    directorate: str
    team: str
    roles: list[tuple[str, str]]
    line_manager: str
    buddy: str


@dataclass
class ImportResult:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    teams_created: list[str] = field(default_factory=list)
    invited: list[str] = field(default_factory=list)


def _parse_roles(text: str) -> list[tuple[str, str]]:
    roles = []
    for item in filter(None, (part.strip() for part in text.split(";"))):
        name, _, scope = item.partition(":")
        name, scope = name.strip().lower(), scope.strip().lower()
        if name not in Role.values:
            raise ValueError(f"unknown role {name!r} (known roles: {', '.join(Role.values)})")
        if scope and scope not in Scope.values:
            raise ValueError(f"unknown scope {scope!r} for role {name} "
                             f"(scopes: {', '.join(Scope.values)})")
        pair = (name, scope or DEFAULT_SCOPE[name])
        if pair not in roles:
            roles.append(pair)
    return roles


def parse(text: str) -> list[Row]:
    """Read and check every row; raise ImportFailed listing every problem."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    if reader.fieldnames is None:
        raise ImportFailed(["line 1: the file is empty"])
    header = {name: (name or "").strip().lower().replace(" ", "_") for name in reader.fieldnames}
    missing = [c for c in REQUIRED_COLUMNS if c not in header.values()]
    if missing:
        raise ImportFailed([f"line 1: missing column(s): {', '.join(missing)}"])
    rows, errors, seen = [], [], {}
    for record in reader:
        line = reader.line_num
        values = {header[k]: (v or "").strip() for k, v in record.items() if k in header}
        problems = []
        username = values["username"]
        if not USERNAME.match(username):
            problems.append(f"username {username!r} is empty or has characters other than "
                            "letters, digits and . @ + - _")
        elif username in seen:
            problems.append(f"username {username!r} is already on line {seen[username]}")
        else:
            seen[username] = line
        if not values["full_name"]:
            problems.append("full_name is empty")
        if values["email"]:
            try:
                validate_email(values["email"])
            except ValidationError:
                problems.append(f"email {values['email']!r} is not an email address")
        mobile = ""
        if values["mobile"]:
            try:
                mobile = normalise_mobile(values["mobile"])
            except ValueError as error:
                problems.append(str(error))
        if values["team"] and not values["directorate"]:
            problems.append("team is given without its directorate")
        roles = []
        try:
            roles = _parse_roles(values["roles"])
        except ValueError as error:
            problems.append(str(error))
        for role, scope in roles:
            if scope == Scope.TEAM and not values["team"]:
                problems.append(f"role {role} is team-wide but the person has no team")
            if scope == Scope.DIRECTORATE and not values["directorate"]:
                problems.append(f"role {role} is directorate-wide but the person has no "
                                "directorate")
        for column in ("line_manager", "buddy"):
            if values[column] and values[column] == username:
                problems.append(f"{column} cannot be the person themselves")
        if problems:
            errors.extend(f"line {line}: {p}" for p in problems)
            continue
        rows.append(Row(
            line=line, username=username, full_name=values["full_name"],
            email=values["email"].lower(), mobile=mobile, job_title=values.get("job_title", ""),
            directorate=values["directorate"], team=values["team"], roles=roles,
            line_manager=values["line_manager"], buddy=values["buddy"],
        ))
    if errors:
        raise ImportFailed(errors)
    if not rows:
        raise ImportFailed(["the file has a header but no people"])
    return rows


def _person_fields(person: Person) -> dict:
    return {
        "full_name": person.full_name, "email": person.email, "mobile": person.mobile,
        "job_title": person.job_title, "team": str(person.team) if person.team else "",
        "line_manager": person.line_manager.username if person.line_manager else "",
        "buddy": person.buddy.username if person.buddy else "",
        "roles": sorted(f"{m.role}:{m.scope}" for m in person.roles.all()),
    }


def import_people(
    text: str, *, organisation: Organisation, actor=None, create_teams: bool = False,
    invite: bool = False,
) -> ImportResult:
    rows = parse(text)
    result = ImportResult()
    with transaction.atomic():
        errors = []
        # Structure first: every directorate and team the file names.
        teams: dict[tuple[str, str], Team] = {}
        directorates: dict[str, Directorate] = {
            d.name.lower(): d for d in organisation.directorates.all()
        }
        existing_teams = {
            (t.directorate.name.lower(), t.name.lower()): t
            for t in Team.objects.filter(directorate__organisation=organisation)
            .select_related("directorate")
        }
        for row in rows:
            if not row.directorate:
                continue
            key = (row.directorate.lower(), row.team.lower())
            directorate = directorates.get(key[0])
            if directorate is None:
                if not create_teams:
                    errors.append(f"line {row.line}: directorate {row.directorate!r} does not "
                                  "exist (check the spelling, or import with --create-teams)")
                    continue
                directorate = Directorate.objects.create(organisation=organisation,
                                                         name=row.directorate)
                audit.record("directorate.create", actor=actor, obj=directorate,
                             summary=f"Directorate {directorate.name} created by import")
                directorates[key[0]] = directorate
                result.teams_created.append(directorate.name)
            if row.team and key not in existing_teams:
                if not create_teams:
                    errors.append(f"line {row.line}: team {row.team!r} does not exist in "
                                  f"{row.directorate} (check the spelling, or import with "
                                  "--create-teams)")
                    continue
                team = Team.objects.create(directorate=directorate, name=row.team)
                audit.record("team.create", actor=actor, obj=team,
                             summary=f"Team {team.name} created by import")
                existing_teams[key] = team
                result.teams_created.append(f"{directorate.name} / {team.name}")
            if row.team:
                teams[key] = existing_teams[key]
        usernames = {row.username for row in rows}
        known = set(User.objects.filter(
            username__in={r.line_manager for r in rows} | {r.buddy for r in rows}
        ).values_list("username", flat=True))
        for row in rows:
            for column in ("line_manager", "buddy"):
                name = getattr(row, column)
                if name and name not in usernames and name not in known:
                    errors.append(f"line {row.line}: {column} {name!r} is not in this file "
                                  "and not in Lonewatch")
        if errors:
            transaction.set_rollback(True)
            raise ImportFailed(errors)

        people: dict[str, Person] = {}
        before: dict[str, dict | None] = {}
        for row in rows:
            user = User.objects.filter(username=row.username).first()
            person = getattr(user, "person", None) if user else None
            if person is not None and person.organisation_id != organisation.pk:
                errors.append(f"line {row.line}: {row.username} belongs to another organisation")
                continue
            before[row.username] = _person_fields(person) if person else None
            if user is None:
                user = User(username=row.username)
                user.set_unusable_password()
            user.email = row.email
            user.first_name = row.full_name[:150]
            user.save()
            team = teams.get((row.directorate.lower(), row.team.lower())) if row.team else None
            if person is None:
                person = Person(user=user, organisation=organisation)
            person.full_name = row.full_name
            person.email = row.email
            person.mobile = row.mobile
            person.job_title = row.job_title
            person.team = team
            person.save()
            people[row.username] = person
        if errors:
            transaction.set_rollback(True)
            raise ImportFailed(errors)

        def by_username(name):
            if not name:
                return None
            return people.get(name) or Person.objects.get(user__username=name)

        for row in rows:
            person = people[row.username]
            person.line_manager = by_username(row.line_manager)
            buddy = by_username(row.buddy)
            if buddy != person.buddy:
                person.buddy_accepted_at = None  # BUD-01: a new buddy must accept again
            person.buddy = buddy
            person.save(update_fields=["line_manager", "buddy", "buddy_accepted_at"])
            wanted = set()
            for role, scope in row.roles:
                target = {}
                if scope == Scope.TEAM:
                    target["team"] = person.team
                elif scope == Scope.DIRECTORATE:
                    target["directorate"] = person.team.directorate if person.team else \
                        directorates[row.directorate.lower()]
                membership, _ = RoleMembership.objects.get_or_create(
                    person=person, role=role, scope=scope,
                    team=target.get("team"), directorate=target.get("directorate"),
                )
                wanted.add(membership.pk)
            person.roles.exclude(pk__in=wanted).delete()
            after = _person_fields(person)
            old = before[row.username]
            if old is None:
                result.created.append(row.username)
                audit.record("person.create", actor=actor, obj=person,
                             summary=f"{person.full_name} added by import", after=after)
                if invite and queue_invitation_in_transaction(person.user):
                    result.invited.append(row.username)
            elif old != after:
                result.updated.append(row.username)
                changed_before, changed_after = audit.diff(old, after)
                audit.record("person.update", actor=actor, obj=person,
                             summary=f"{person.full_name} updated by import",
                             before=changed_before, after=changed_after)
            else:
                result.unchanged.append(row.username)
    return result
