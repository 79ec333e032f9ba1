"""The risk register on the web (RSK-03): a heat map on the NHS 5×5 matrix that a
committee reads at a glance, and each risk with its scores, controls, gaps, actions and
the history of its scores. Scoring and changes go through ``governance.actions``; this
page reads."""

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import render

from lonewatch.core import permissions as perms
from lonewatch.governance import scoring
from lonewatch.governance.access import reads_guidance, visible_risks
from lonewatch.governance.permissions import REGISTER


def _heat_map(risks) -> list[dict]:
    """Five rows, likelihood 5 (almost certain) at the top, each of five cells by
    consequence, with the band and the risks whose current score sits there."""
    rows = []
    for likelihood in range(5, 0, -1):
        cells = []
        for consequence in range(1, 6):
            here = [r for r in risks if (r.current_likelihood, r.current_consequence)
                    == (likelihood, consequence)]
            score = scoring.Score(likelihood, consequence)
            cells.append({"score": score.value, "band": score.band,
                          "band_name": scoring.BAND_NAMES[score.band], "risks": here})
        rows.append({"likelihood": likelihood, "label": scoring.LIKELIHOOD[likelihood],
                     "cells": cells})
    return rows


def register(request):
    if not perms.can_anywhere(request.user, perms.VIEW, REGISTER):
        raise PermissionDenied("The risk register is for managers and the security manager.")
    risks = list(visible_risks(request.user).select_related("owner", "team", "directorate"))
    return render(request, "governance/register.html", {
        "risks": risks, "heat_map": _heat_map(risks),
        "consequences": [scoring.CONSEQUENCE[c] for c in range(1, 6)],
        "reads_guidance": reads_guidance(request.user)})


def risk(request, risk_id):
    found = visible_risks(request.user).filter(pk=risk_id).select_related(
        "owner", "team", "directorate").first()
    if found is None:
        raise Http404("No such risk, or not one you can see.")
    return render(request, "governance/risk.html", {
        "risk": found, "scores": [(w.title(), found.score(w)) for w in
                                  ("initial", "current", "target")],
        "history": found.score_changes.select_related("by__person"),
        "actions": found.actions.select_related("owner"),
        "controls": found.controls.all(), "themes": found.themes.all()})
