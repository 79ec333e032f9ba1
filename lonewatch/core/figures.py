"""The governance dashboard's columns (RSK-05): one registry, filled by the apps that own
the figures.

Core knows no domain app, and governance, which shows the dashboard, imports none of the
live-safety apps. So each app that owns a figure (missed check-ins in escalation, red
alerts in alarms, overdue alarm reviews in recordings, …) describes it as a ``Column`` in
its own ``figures.py``, beside its data, and ``register``s it from its
``AppConfig.ready()``. The dashboard lists ``columns()``: a new column is one small
function and one ``register`` call, and nothing else changes.

A column computes its figure for many teams at once (``per_team``), and optionally for
each person of those teams (``per_person``, for the drill-down to a person), in a fixed
number of queries whatever the number of teams: one aggregate query grouped by team, not
a query per team. Both get the organisation, the teams' ids and the moment to count at,
and answer ``{team or person id: Figure}``; an id left out has nothing to count.

A figure is a **count** ("3 red alerts") or a **part of a whole** ("8 of 10 lone
workers named"). Teams add up into their directorate and the trust by summing: a count
sums, a part of a whole sums both parts.

Its colour compares the figure with the column's thresholds: the security manager's for
the trust (``governance.Threshold``) or the column's defaults. A part of a whole is
compared as a percentage; a count as it is for a team or a person, and as its average per
team for a directorate or the trust, so that one threshold serves every level. A column
says which way is good: where lower is better, a figure above ``amber`` is amber and above
``red`` is red; where higher is better, below ``amber`` is amber and below ``red`` red.
A part of nothing (0 of 0) has no colour.
"""

from collections.abc import Callable, Collection, Iterable, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from math import isfinite

# The period the live figures count over ("in the last 90 days"), one for every column so
# that the dashboard's columns can be read side by side.
RECENT = timedelta(days=90)

COUNT, FRACTION = "count", "fraction"
LOWER, HIGHER = "lower", "higher"  # which way is good
GREEN, AMBER, RED, NO_COLOUR = "green", "amber", "red", "none"
COLOUR_WORDS = {GREEN: "Green", AMBER: "Amber", RED: "Red", NO_COLOUR: "Nothing to count"}
# The dashboard's groups of columns, shown as one table each, in this order.
GOVERNANCE = "Activities, SOPs and reviews"
LIVE = "Live safety"
GROUPS = (GOVERNANCE, LIVE)


@dataclass(frozen=True)
class Figure:
    """A count (``out_of`` is None) or ``value`` of ``out_of``."""

    value: int = 0
    out_of: int | None = None

    def __add__(self, other: "Figure") -> "Figure":
        if (self.out_of is None) != (other.out_of is None):
            raise TypeError("a count and a part of a whole do not add up")
        return Figure(self.value + other.value,
                      None if self.out_of is None else self.out_of + other.out_of)

    @property
    def percent(self) -> float | None:
        if self.out_of is None or self.out_of == 0:
            return None
        return 100 * self.value / self.out_of

    def __str__(self) -> str:
        if self.out_of is None:
            return str(self.value)
        percent = self.percent
        return f"{self.value} of {self.out_of}" + (
            f" ({percent:.0f}%)" if percent is not None else "")


# (organisation id, team ids, now) -> {team id or person id: Figure}
Computes = Callable[[int, Collection[int], datetime], Mapping[int, Figure]]

# What one reading of the dashboard has already counted (``shared``), while it runs.
_reading: ContextVar[dict | None] = ContextVar("figures_reading", default=None)


@contextmanager
def one_reading():
    """One reading of the dashboard: within it, a ``shared`` count is made once."""
    token = _reading.set({})
    try:
        yield
    finally:
        _reading.reset(token)


def shared(count: Callable):
    """For a count that several columns read (missed check-ins, and how many of them a
    worker forgot to check out): within ``one_reading`` it runs once for the same
    organisation, teams and moment, and its answer is reused. Outside one, it runs each
    time."""
    def reuse(organisation_id, team_ids, now):
        reading = _reading.get()
        if reading is None:
            return count(organisation_id, team_ids, now)
        key = (count, organisation_id, tuple(team_ids), now)
        if key not in reading:
            reading[key] = count(organisation_id, team_ids, now)
        return reading[key]

    return reuse


@dataclass(frozen=True)
class Column:
    """One column of the dashboard.

    ``key`` names it in the API, the exports and the security manager's thresholds;
    ``owner`` is the label of the app that registers it; ``counts`` says in words what
    it counts (shown beside the label); ``group`` is the table it is shown in (one of
    ``GROUPS``); ``order`` places it (lower first, then by key)."""

    key: str
    label: str
    owner: str
    counts: str
    per_team: Computes
    group: str = GOVERNANCE
    kind: str = COUNT
    good: str = LOWER
    amber: float = 0
    red: float = 0
    per_person: Computes | None = None
    order: int = 1000
    # MOV-04: what the reader's own account must not see counted (the duress alarms they
    # raised themselves), by team: (organisation id, the reader's person id, now) ->
    # {team id: Figure}. The dashboard takes it off every figure that includes them.
    unseen_by: Callable[[int, int, datetime], Mapping[int, Figure]] | None = None

    def __post_init__(self):
        if self.kind not in (COUNT, FRACTION):
            raise ValueError(f"{self.key}: kind is {COUNT!r} or {FRACTION!r}")
        if self.group not in GROUPS:
            raise ValueError(f"{self.key}: group is one of {GROUPS}")
        if self.good not in (LOWER, HIGHER):
            raise ValueError(f"{self.key}: good is {LOWER!r} or {HIGHER!r}")
        problem = self.threshold_problem(self.amber, self.red)
        if problem:
            raise ValueError(f"{self.key}: {problem[1]}")

    def threshold_problem(self, amber: float, red: float) -> tuple[str, str] | None:
        """What is wrong with these thresholds for this column: (which, in words), or
        None if nothing."""
        for name, value in (("amber", amber), ("red", red)):
            if isinstance(value, bool) or not isinstance(value, int | float) or \
                    not isfinite(value):
                return name, f"The {name} threshold must be a number."
            if value < 0:
                return name, f"The {name} threshold cannot be below 0."
            if self.kind == FRACTION and value > 100:
                return name, f"The {name} threshold is a percentage: at most 100."
        if self.good == LOWER and red < amber:
            return "red", (f"For {self.label.lower()} lower is better: red ({red:g}) must be "
                           f"at or above amber ({amber:g}).")
        if self.good == HIGHER and red > amber:
            return "red", (f"For {self.label.lower()} higher is better: red ({red:g}) must "
                           f"be at or below amber ({amber:g}).")
        return None

    def without(self, figure: Figure, unseen: Figure | None) -> Figure:
        """``figure`` less what its reader must not see counted."""
        if unseen is None:
            return figure
        return Figure(max(figure.value - unseen.value, 0), None if figure.out_of is None
                      else max(figure.out_of - (unseen.out_of or 0), 0))

    def empty(self) -> Figure:
        return Figure(0, None if self.kind == COUNT else 0)

    def total(self, figures: Iterable[Figure]) -> Figure:
        """Figures added up into one (teams into a directorate, directorates into the
        trust): a count sums, a part of a whole sums both parts."""
        figures = list(figures)
        value = sum(f.value for f in figures)
        if self.kind == COUNT:
            return Figure(value)
        return Figure(value, sum(f.out_of or 0 for f in figures))

    def colour(self, figure: Figure, amber: float, red: float, *, teams: int = 1) -> str:
        """GREEN, AMBER, RED or NO_COLOUR. ``teams``: how many teams a count adds up
        (it is compared as its average per team)."""
        if self.kind == FRACTION:
            measured = figure.percent
            if measured is None:
                return NO_COLOUR
        else:
            measured = figure.value / max(teams, 1)
        if self.good == LOWER:
            return RED if measured > red else AMBER if measured > amber else GREEN
        return RED if measured < red else AMBER if measured < amber else GREEN


_columns: dict[str, Column] = {}


def register(column: Column) -> Column:
    """Add ``column`` to the dashboard. Registering the same column again is a no-op (a
    ``ready()`` that runs twice); another column under a key already taken is refused."""
    known = _columns.get(column.key)
    if known is not None and known != column:
        raise ValueError(f"the dashboard already has a column {column.key!r} "
                         f"(registered by {known.owner})")
    _columns[column.key] = column
    return column


def columns() -> list[Column]:
    """Every registered column, in a stable order: by ``order``, then by key."""
    return sorted(_columns.values(), key=lambda c: (c.order, c.key))


def column(key: str) -> Column | None:
    return _columns.get(key)
