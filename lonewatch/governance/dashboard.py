"""The governance dashboard, or tracker (RSK-05): for the trust, each directorate and each
team (and a team's people), the columns every app registers with ``core.figures``, each
cell coloured red, amber or green against the security manager's thresholds or the
column's own.

Who sees what is asked of the permission engine (``governance_dashboard``): the trust for
the security manager and the security management director, a directorate for its lead
and senior managers, a team for its line manager. The trust's dashboard is refused (403)
to anyone else; a directorate or team out of reach is "not there" (404).

Building it costs a fixed number of queries whatever the number of teams: the teams and
directorates, the thresholds, then each column's own (one aggregate for all the teams).
The page, the API and the exports all call ``build``."""

import csv
import io
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import PermissionDenied
from django.utils import timezone
from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter

from lonewatch import clock
from lonewatch.core import figures
from lonewatch.core import permissions as perms
from lonewatch.core.figures import Column, Figure
from lonewatch.governance.models import Threshold
from lonewatch.governance.permissions import DASHBOARD
from lonewatch.org.access import access_me
from lonewatch.org.models import Directorate, Organisation, Person, Team

TRUST, DIRECTORATE, TEAM, PERSON = "trust", "directorate", "team", "person"
LEVEL_WORDS = {TRUST: "Trust", DIRECTORATE: "Directorate", TEAM: "Team", PERSON: "Person"}
NOT_YOURS = "No such {}, or not one whose dashboard you may see."


@dataclass(frozen=True)
class Limits:
    """A column with the thresholds that colour it for this trust."""

    column: Column
    amber: float
    red: float
    set_by_trust: bool

    @property
    def key(self) -> str:
        return self.column.key

    def cell(self, figure: Figure, *, teams: int = 1) -> "Cell":
        return Cell(figure, self.column.colour(figure, self.amber, self.red, teams=teams))


@dataclass(frozen=True)
class Cell:
    figure: Figure
    colour: str

    @property
    def value(self) -> int:
        return self.figure.value

    @property
    def out_of(self) -> int | None:
        return self.figure.out_of

    @property
    def percent(self) -> float | None:
        return self.figure.percent

    @property
    def colour_words(self) -> str:
        return figures.COLOUR_WORDS[self.colour]

    def __str__(self) -> str:
        return str(self.figure)


@dataclass(frozen=True)
class Row:
    level: str
    id: int
    name: str
    directorate_id: int | None
    team_id: int | None
    directorate: str  # the names, for the exports
    team: str
    cells: dict[str, Cell | None]  # None: the column has no figure at this level

    @property
    def level_words(self) -> str:
        return LEVEL_WORDS[self.level]


@dataclass(frozen=True)
class Dashboard:
    organisation: Organisation
    level: str  # what it is the dashboard of: TRUST, DIRECTORATE or TEAM
    at: datetime
    columns: list[Limits]
    rows: list[Row]
    directorate: Directorate | None = None
    team: Team | None = None

    @property
    def title(self) -> str:
        if self.team is not None:
            return f"{self.team.name} ({self.team.directorate.name})"
        if self.directorate is not None:
            return self.directorate.name
        return self.organisation.name


def limits(organisation_id: int) -> list[Limits]:
    """Every column with its thresholds: the trust's where the security manager set them,
    else the column's defaults."""
    set_here = {t.column: t for t in Threshold.objects.filter(organisation_id=organisation_id)}
    found = []
    for column in figures.columns():
        threshold = set_here.get(column.key)
        found.append(Limits(column, threshold.amber, threshold.red, True) if threshold
                     else Limits(column, column.amber, column.red, False))
    return found


def widest(user) -> tuple[str, int | None] | None:
    """The widest dashboard ``user`` may see, as (TRUST, None), (DIRECTORATE, id) or
    (TEAM, id); None if they may see none. For a page that opens where its reader
    stands."""
    need = (DASHBOARD, perms.VIEW)
    scopes = [m for m in perms.memberships(user) if need in perms.role_grants(m.role)]
    for scope, level in ((perms.ORGANISATION, TRUST), (perms.DIRECTORATE_SCOPE, DIRECTORATE),
                         (perms.TEAM_SCOPE, TEAM)):
        ids = sorted(m.scope_id or 0 for m in scopes if m.scope == scope)
        if ids:
            return level, ids[0] or None
    return None


def build(user, *, directorate_id: int | None = None, team_id: int | None = None,
          now: datetime | None = None) -> Dashboard:
    """The dashboard of the trust, of one directorate, or of one team with its people
    (``team_id`` wins over ``directorate_id``), as ``user`` may see it. Counts that
    several columns share are made once (``figures.one_reading``)."""
    with figures.one_reading():
        return _build(user, directorate_id=directorate_id, team_id=team_id, now=now)


def _build(user, *, directorate_id, team_id, now) -> Dashboard:
    me = access_me(user)
    now = now or clock.now()
    organisation = Organisation.objects.get(pk=me.organisation_id)
    columns = limits(organisation.pk)
    if team_id is not None:
        team = perms.fetch_or_refuse(
            user, Team.objects.select_related("directorate").filter(
                directorate__organisation_id=organisation.pk), team_id, DASHBOARD,
            missing=NOT_YOURS.format("team"))
        rows = _team_rows(organisation.pk, team, columns, now, reader=me)
        return Dashboard(organisation, TEAM, now, columns, rows, team.directorate, team)
    if directorate_id is not None:
        directorate = perms.fetch_or_refuse(
            user, Directorate.objects.filter(organisation_id=organisation.pk),
            directorate_id, DASHBOARD, missing=NOT_YOURS.format("directorate"))
        teams = list(directorate.teams.order_by("name", "pk"))
        for team in teams:
            team.directorate = directorate  # already at hand: no query for its name
        rows = _rows(organisation.pk, [directorate], teams, columns, now, reader=me)
        return Dashboard(organisation, DIRECTORATE, now, columns, rows, directorate)
    if not perms.can_anywhere(user, perms.VIEW, DASHBOARD):
        raise PermissionDenied("The governance dashboard is for managers and the security "
                               "team.")
    if not perms.can(user, perms.VIEW, DASHBOARD, organisation):
        raise PermissionDenied("The trust's dashboard is for the security manager and the "
                               "security management director: open your directorate's or "
                               "your team's.")
    directorates = list(organisation.directorates.order_by("name", "pk"))
    teams = list(Team.objects.filter(directorate__organisation_id=organisation.pk)
                 .select_related("directorate").order_by("name", "pk"))
    return Dashboard(organisation, TRUST, now, columns,
                     _rows(organisation.pk, directorates, teams, columns, now,
                           trust=organisation, reader=me))


def _unseen(organisation_id: int, columns: list[Limits], reader: Person, now) -> dict:
    """MOV-04: per column, by team, what ``reader``'s own account must not see counted."""
    return {c.key: c.column.unseen_by(organisation_id, reader.pk, now) for c in columns
            if c.column.unseen_by is not None}


def _rows(organisation_id: int, directorates: list[Directorate], teams: list[Team],
          columns: list[Limits], now, *, reader: Person,
          trust: Organisation | None = None) -> list[Row]:
    """The trust's row (when ``trust``), then each directorate's followed by its teams'."""
    team_ids = [t.pk for t in teams]
    unseen = _unseen(organisation_id, columns, reader, now)
    # Each column's figure for each team, a missing team being one with nothing to count,
    # less what the reader must not see counted (the sums above a team follow).
    figures_of = {}
    for limits in columns:
        column = limits.column
        found, empty, hidden = column.per_team(organisation_id, team_ids, now), \
            column.empty(), unseen.get(column.key, {})
        figures_of[column.key] = {pk: column.without(found.get(pk) or empty, hidden.get(pk))
                                  for pk in team_ids}

    def added_up(of_teams: list[Team]) -> dict[str, Cell]:
        return {c.column.key: c.cell(c.column.total(figures_of[c.column.key][t.pk]
                                                     for t in of_teams), teams=len(of_teams))
                for c in columns}

    rows = []
    if trust is not None:
        rows.append(Row(TRUST, trust.pk, trust.name, None, None, "", "", added_up(teams)))
    for directorate in directorates:
        own = [t for t in teams if t.directorate_id == directorate.pk]
        rows.append(Row(DIRECTORATE, directorate.pk, directorate.name, directorate.pk, None,
                        directorate.name, "", added_up(own)))
        rows.extend(Row(TEAM, t.pk, t.name, directorate.pk, t.pk, directorate.name, t.name,
                        {c.column.key: c.cell(figures_of[c.column.key][t.pk])
                         for c in columns}) for t in own)
    return rows


def _team_rows(organisation_id: int, team: Team, columns: list[Limits], now, *,
               reader: Person) -> list[Row]:
    """The team's row, then each of its people's (a column that counts by team only has
    no figure for a person)."""
    unseen = {key: hidden.get(team.pk) for key, hidden in
              _unseen(organisation_id, columns, reader, now).items()}
    cells = {c.key: c.cell(c.column.without(
        c.column.per_team(organisation_id, [team.pk], now).get(team.pk) or c.column.empty(),
        unseen.get(c.key))) for c in columns}
    rows = [Row(TEAM, team.pk, team.name, team.directorate_id, team.pk, team.directorate.name,
                team.name, cells)]
    per_person = {c.key: c.column.per_person(organisation_id, [team.pk], now)
                  for c in columns if c.column.per_person is not None}
    people = Person.objects.filter(organisation_id=organisation_id, team=team) \
        .order_by("full_name", "pk").only("pk", "full_name")
    for person in people:
        cells = {c.key: c.cell(c.column.without(
            per_person[c.key].get(person.pk) or c.column.empty(),
            unseen.get(c.key) if person.pk == reader.pk else None))
                 if c.key in per_person else None for c in columns}
        rows.append(Row(PERSON, person.pk, person.full_name, team.directorate_id, team.pk,
                        team.directorate.name, team.name, cells))
    return rows


# --- the exports, for committee papers ------------------------------------------------


def _header(board: Dashboard) -> list[str]:
    header = ["Level", "Directorate", "Team", "Name"]
    for limits in board.columns:
        header.append(limits.column.label)
        if limits.column.kind == figures.FRACTION:
            header.append(f"{limits.column.label}: out of")
        header.append(f"{limits.column.label}: RAG")
    return header


def _cells(board: Dashboard, row: Row) -> list:
    """A row's figures in ``_header``'s order: the value, its whole for a part of a whole,
    and the colour in words ("" where the column has no figure at this level)."""
    out = []
    for limits in board.columns:
        cell = row.cells[limits.key]
        out.append("" if cell is None else cell.value)
        if limits.column.kind == figures.FRACTION:
            out.append("" if cell is None else cell.out_of)
        out.append("" if cell is None else cell.colour_words)
    return out


def _safe(text: str) -> str:
    """Text a spreadsheet will not run as a formula (a team named "=HYPERLINK(…)")."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def to_csv(board: Dashboard) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(_header(board))
    for row in board.rows:
        writer.writerow([row.level_words, _safe(row.directorate), _safe(row.team),
                         _safe(row.name), *_cells(board, row)])
    return out.getvalue()


# Excel's own red, amber and green cell styles, which committee papers use.
FILLS = {figures.RED: ("FFC7CE", "9C0006"), figures.AMBER: ("FFEB9C", "9C5700"),
         figures.GREEN: ("C6EFCE", "006100")}


def to_xlsx(board: Dashboard) -> bytes:
    """The dashboard as a workbook: the figures, each coloured red, amber or green with
    the colour in words beside it, and a second sheet saying what each column counts
    and where it turns amber and red."""
    book = Workbook()
    sheet = book.active
    sheet.title = "Dashboard"
    local = timezone.localtime(board.at)
    sheet.append([f"{board.title}: lone-working governance dashboard, "
                  f"{local:%-d %B %Y %H:%M}"])
    sheet["A1"].font = Font(bold=True, size=14)
    sheet.append([])
    sheet.append(_header(board))
    for cell in sheet[3]:
        cell.font = Font(bold=True)
    styles = {colour: (PatternFill("solid", start_color=fill, end_color=fill),
                       Font(color=text)) for colour, (fill, text) in FILLS.items()}
    for row in board.rows:
        texts = [row.level_words, row.directorate, row.team, row.name]
        sheet.append([None] * len(texts) + _cells(board, row))
        line = sheet.max_row
        for number, text in enumerate(texts, 1):
            _text(sheet.cell(line, number), text)
        if row.level != PERSON:
            for number in range(1, 5):
                sheet.cell(line, number).font = Font(bold=row.level != TEAM)
        number = 5
        for limits in board.columns:
            cell = row.cells[limits.key]
            width = 3 if limits.column.kind == figures.FRACTION else 2
            if cell is not None and cell.colour in styles:
                fill, font = styles[cell.colour]
                for offset in (0, width - 1):  # the figure, and its colour in words
                    sheet.cell(line, number + offset).fill = fill
                    sheet.cell(line, number + offset).font = font
            number += width
    sheet.freeze_panes = "E4"
    for number, width in ((1, 12), (2, 24), (3, 24), (4, 28)):
        sheet.column_dimensions[get_column_letter(number)].width = width
    about = book.create_sheet("Columns")
    about.append(["Column", "Key", "Counts", "Kept by", "Better", "Amber beyond",
                  "Red beyond", "Thresholds"])
    for cell in about[1]:
        cell.font = Font(bold=True)
    for limits in board.columns:
        column = limits.column
        unit = "%" if column.kind == figures.FRACTION else " a team"
        about.append([None, None, None, column.owner, column.good, f"{limits.amber:g}{unit}",
                      f"{limits.red:g}{unit}",
                      "set by the trust" if limits.set_by_trust else "the column's own"])
        for number, text in enumerate((column.label, column.key, column.counts), 1):
            _text(about.cell(about.max_row, number), text)
    about.column_dimensions["A"].width = 30
    about.column_dimensions["C"].width = 80
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _text(cell, text: str) -> None:
    """Write ``text`` as text: openpyxl takes a value beginning with "=" for a formula."""
    cell.value = text
    cell.data_type = "s"
