"""The governance dashboard over the JSON API (RSK-05): the trust's, a directorate's or a
team's figures with their red, amber and green, as JSON, CSV or XLSX, and the trust's
thresholds."""

from datetime import datetime
from typing import Literal

from django.http import HttpResponse
from ninja import Query, Router, Schema
from ninja.errors import HttpError
from pydantic import Field

from lonewatch.api.schemas import Id, refusals
from lonewatch.core import figures
from lonewatch.governance import actions, dashboard
from lonewatch.org.access import access_me

router = Router(tags=["governance"])

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
Colour = Literal[figures.GREEN, figures.AMBER, figures.RED, figures.NO_COLOUR]
# The columns registered by the apps (their keys, for the thresholds' path).
ColumnKey = Literal[tuple(c.key for c in figures.columns())]
ThresholdValue = Field(ge=0, allow_inf_nan=False,
                  description="A percentage for a part of a whole; a count per team for a "
                              "count")


class DashboardColumnOut(Schema):
    key: str
    label: str
    owner: str = Field(description="The app that computes the figure")
    counts: str = Field(description="What it counts, in words")
    group: Literal[figures.GROUPS] = Field(description="The group of columns it is shown in")
    kind: Literal[figures.COUNT, figures.FRACTION]
    good: Literal[figures.LOWER, figures.HIGHER] = Field(description="Which way is better")
    amber: float = Field(description="Amber beyond this (a percentage for a fraction, per "
                                     "team for a count)")
    red: float = Field(description="Red beyond this")
    set_by_trust: bool = Field(description="False: the column's own defaults")
    default_amber: float
    default_red: float
    per_person: bool = Field(description="Whether a team's people have this figure")


class DashboardCellOut(Schema):
    value: int
    out_of: int | None = Field(description="The whole, for a part of a whole; null for a "
                                           "count")
    percent: float | None
    colour: Colour = Field(description="\"none\": a part of nothing (0 of 0)")
    colour_words: str


class DashboardRowOut(Schema):
    level: Literal[dashboard.TRUST, dashboard.DIRECTORATE, dashboard.TEAM, dashboard.PERSON]
    id: int
    name: str
    directorate_id: int | None
    team_id: int | None
    cells: dict[str, DashboardCellOut | None] = Field(
        description="By column key; null where the column has no figure at this level")


class DashboardOut(Schema):
    organisation_id: int
    organisation: str
    level: Literal[dashboard.TRUST, dashboard.DIRECTORATE, dashboard.TEAM]
    title: str
    directorate_id: int | None
    team_id: int | None
    at: datetime
    columns: list[DashboardColumnOut]
    rows: list[DashboardRowOut]


class DashboardThresholdIn(Schema):
    amber: float = ThresholdValue
    red: float = ThresholdValue


def _column_out(limits: dashboard.Limits) -> dict:
    column = limits.column
    return {"key": column.key, "label": column.label, "owner": column.owner,
            "counts": column.counts, "group": column.group, "kind": column.kind,
            "good": column.good,
            "amber": limits.amber, "red": limits.red, "set_by_trust": limits.set_by_trust,
            "default_amber": column.amber, "default_red": column.red,
            "per_person": column.per_person is not None}


def _cell_out(cell: dashboard.Cell | None) -> dict | None:
    if cell is None:
        return None
    return {"value": cell.value, "out_of": cell.out_of, "percent": cell.percent,
            "colour": cell.colour, "colour_words": cell.colour_words}


def _board(request, directorate_id, team_id) -> dashboard.Dashboard:
    return dashboard.build(request.user, directorate_id=directorate_id, team_id=team_id)


WHICH = ("The trust's dashboard (the security manager and the security management "
         "director; 403 for others), a directorate's with `directorate_id`, or a team's "
         "with its people with `team_id` (which wins over `directorate_id`); 404 for a "
         "directorate or team you may not see.")
DirectorateId = Query(None, description="A directorate's dashboard: it and its teams")
TeamId = Query(None, description="A team's dashboard: it and its people")


@router.get("/dashboard", response={200: DashboardOut, **refusals(400, 403, 404)},
            summary="The governance dashboard (RSK-05)", description=WHICH)
def get_dashboard(request, directorate_id: Id | None = DirectorateId,
                  team_id: Id | None = TeamId):
    board = _board(request, directorate_id, team_id)
    return {"organisation_id": board.organisation.pk, "organisation": board.organisation.name,
            "level": board.level, "title": board.title,
            "directorate_id": board.directorate.pk if board.directorate else None,
            "team_id": board.team.pk if board.team else None, "at": board.at,
            "columns": [_column_out(c) for c in board.columns],
            "rows": [{"level": r.level, "id": r.id, "name": r.name,
                      "directorate_id": r.directorate_id, "team_id": r.team_id,
                      "cells": {key: _cell_out(cell) for key, cell in r.cells.items()}}
                     for r in board.rows]}


def _download(body, content_type: str, board: dashboard.Dashboard, suffix: str):
    response = HttpResponse(body, content_type=content_type)
    name = f"lonewatch-dashboard-{board.level}-{board.at:%Y-%m-%d}.{suffix}"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    return response


@router.get("/dashboard.csv", response={200: None, **refusals(400, 403, 404)},
            summary="The governance dashboard as CSV, for committee papers",
            description=WHICH + " One row per trust, directorate, team or person; for each "
                                "column its figure, its whole (for a part of a whole) and "
                                "its colour in words.",
            openapi_extra={"responses": {200: {"description": "The dashboard, one row a "
                                                              "line", "content": {
                "text/csv": {"schema": {"type": "string"}}}}}})
def get_dashboard_csv(request, directorate_id: Id | None = DirectorateId,
                      team_id: Id | None = TeamId):
    board = _board(request, directorate_id, team_id)
    return _download(dashboard.to_csv(board), "text/csv; charset=utf-8", board, "csv")


@router.get("/dashboard.xlsx", response={200: None, **refusals(400, 403, 404)},
            summary="The governance dashboard as an XLSX workbook, coloured red, amber and "
                    "green", description=WHICH,
            openapi_extra={"responses": {200: {"description": "The workbook", "content": {
                XLSX: {"schema": {"type": "string", "format": "binary"}}}}}})
def get_dashboard_xlsx(request, directorate_id: Id | None = DirectorateId,
                       team_id: Id | None = TeamId):
    board = _board(request, directorate_id, team_id)
    return _download(dashboard.to_xlsx(board), XLSX, board, "xlsx")


@router.put("/dashboard/thresholds/{column}",
            response={200: DashboardColumnOut, **refusals(400, 403)},
            summary="Set where a column turns amber and red for the trust (the security "
                    "manager)",
            description="For a column where lower is better, red must be at or above amber; "
                        "where higher is better, at or below it. A part of a whole is a "
                        "percentage (0 to 100).")
def put_threshold(request, column: ColumnKey, body: DashboardThresholdIn):
    me = access_me(request.user)
    try:
        actions.do_set_threshold(me.organisation, actor=request.user, column=column,
                                 amber=body.amber, red=body.red)
    except actions.GovernanceError as error:
        raise HttpError(400, str(error)) from None
    return _column_out(next(c for c in dashboard.limits(me.organisation_id)
                            if c.key == column))
