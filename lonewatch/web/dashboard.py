"""The governance dashboard's page (RSK-05): the trust, a directorate (``?directorate=``)
or a team and its people (``?team=``), with links down from each level to the next and
the same figures to download as CSV or XLSX (``&format=csv``, ``&format=xlsx``). The
figures and who may see them are ``governance.dashboard``'s."""

from urllib.parse import urlencode

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET

from lonewatch.core import figures
from lonewatch.core import permissions as perms
from lonewatch.governance import dashboard as board_of
from lonewatch.governance.dashboard import DIRECTORATE, PERSON, TEAM, TRUST
from lonewatch.governance.permissions import DASHBOARD

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
TAGS = {figures.GREEN: "nhsuk-tag--green", figures.AMBER: "nhsuk-tag--orange",
        figures.RED: "nhsuk-tag--red", figures.NO_COLOUR: "nhsuk-tag--grey"}


def _id(value: str | None) -> int | None:
    if value in (None, ""):
        return None
    if not value.isdigit() or len(value) > 18:
        raise Http404("No such directorate or team.")
    return int(value)


def _link(level: str, row_id: int) -> str | None:
    if level == DIRECTORATE:
        return f"{reverse('dashboard')}?directorate={row_id}"
    if level == TEAM:
        return f"{reverse('dashboard')}?team={row_id}"
    if level == PERSON:
        return reverse("person", args=[row_id])
    return None


@require_GET
def dashboard(request):
    directorate_id = _id(request.GET.get("directorate"))
    team_id = _id(request.GET.get("team"))
    if directorate_id is None and team_id is None:
        widest = board_of.widest(request.user)
        if widest is None:
            raise PermissionDenied("The governance dashboard is for managers and the "
                                   "security team.")
        level, found = widest
        if level != TRUST:
            return redirect(f"{reverse('dashboard')}?{level}={found}")
    board = board_of.build(request.user, directorate_id=directorate_id, team_id=team_id)
    query = {key: value for key, value in (("directorate", directorate_id),
                                           ("team", team_id)) if value is not None}
    wanted = request.GET.get("format")
    if wanted in ("csv", "xlsx"):
        body, content_type = ((board_of.to_csv(board), "text/csv; charset=utf-8")
                              if wanted == "csv" else (board_of.to_xlsx(board), XLSX))
        response = HttpResponse(body, content_type=content_type)
        response["Content-Disposition"] = (
            f'attachment; filename="lonewatch-dashboard-{board.level}-{board.at:%Y-%m-%d}'
            f'.{wanted}"')
        return response
    tables = []
    for group in figures.GROUPS:  # one table per group of columns, each with the names
        columns = [limits for limits in board.columns if limits.column.group == group]
        if columns:
            tables.append({"title": group, "columns": columns, "rows": [{
                "row": row,
                "link": _link(row.level, row.id) if row.level != board.level else None,
                "cells": [(row.cells[limits.key], TAGS[row.cells[limits.key].colour]
                           if row.cells[limits.key] else "") for limits in columns],
            } for row in board.rows]})
    return render(request, "governance/dashboard.html", {
        "board": board, "tables": tables, "recent_days": figures.RECENT.days,
        "trust_visible": board_of.widest(request.user) == (TRUST, None),
        "directorate_visible": board.level == TEAM and perms.can(
            request.user, perms.VIEW, DASHBOARD, board.directorate),
        "csv": "?" + urlencode(query | {"format": "csv"}),
        "xlsx": "?" + urlencode(query | {"format": "xlsx"}),
    })
