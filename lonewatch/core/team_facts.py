"""What the running system already says about how a team works alone, for documents that
describe it (RSK-04: a team's SOP).

A team's Standard Operating Procedure must not contradict Lonewatch: its escalation
steps, its buddies, its emergency equipment and its check-in intervals are read live
from the apps that keep them, each time the SOP is shown or exported. Governance, which
writes the SOP, sits beside those apps and may not import them; each app registers a
section here in its ``AppConfig.ready()`` (in its ``team_facts.py``), and the SOP asks
for them all. Core knows no app: a section is a key, a title, an order and a function of
the team that answers lines of text.
"""

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Provider:
    key: str
    title: str
    order: int
    lines: Callable[[object], list[str]]  # (team) -> lines or paragraphs, in words


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    lines: list[str]


_providers: dict[str, Provider] = {}


def register(key: str, *, title: str, order: int, lines: Callable[[object], list[str]]) -> None:
    """Add (or, for a ``ready()`` that runs again, replace) the section ``key``."""
    _providers[key] = Provider(key, title, order, lines)


def providers() -> list[Provider]:
    return sorted(_providers.values(), key=lambda p: (p.order, p.key))


def sections(team) -> list[Section]:
    """Every registered section for ``team``, in order, read now. A section with nothing
    to say is kept, with no lines, so a document can say so rather than drop it."""
    return [Section(p.key, p.title, list(p.lines(team))) for p in providers()]
