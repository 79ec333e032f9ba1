"""The security manager's thematic analysis and controls catalogue on the web (RSK-01,
RSK-02): every team's accepted risk statements, filed under the trust's themes; each
theme with the teams behind it; the controls and the themes each mitigates."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from lonewatch.core import permissions as perms
from lonewatch.governance import actions
from lonewatch.governance.models import ActivityRisk, Control, RiskType, Theme
from lonewatch.governance.permissions import CATALOGUE
from lonewatch.org.access import access_me


def _keeper(request):
    me = access_me(request.user)
    if not perms.can_anywhere(request.user, perms.CHANGE, CATALOGUE):
        raise PermissionDenied("The thematic analysis is the security manager's.")
    return me


def themes(request):
    me = _keeper(request)
    statements = actions.accepted_risks(me.organisation_id)
    catalogue = list(Theme.objects.filter(organisation_id=me.organisation_id)
                     .prefetch_related("controls"))
    for theme in catalogue:
        theme.filed = [s for s in statements if s.theme_id == theme.pk]
        theme.teams = sorted({s.activity.submission.team.name for s in theme.filed})
    return render(request, "governance/themes.html", {
        "unfiled": [s for s in statements if s.theme_id is None], "themes": catalogue,
        "controls": Control.objects.filter(organisation_id=me.organisation_id)
        .prefetch_related("themes"), "risk_types": RiskType.choices})


@require_POST
def file_statements(request):
    me = _keeper(request)
    ids = [int(i) for i in request.POST.getlist("statement") if i.isdigit()]
    found = list(ActivityRisk.objects.filter(
        pk__in=ids, activity__submission__team__directorate__organisation_id=me.organisation_id
    ).select_related("activity__submission__team__directorate__organisation"))
    try:
        theme_id = request.POST.get("theme", "")
        if theme_id.isdigit():
            theme = Theme.objects.get(pk=int(theme_id), organisation_id=me.organisation_id)
        else:
            theme = actions.do_save_theme(me.organisation, actor=request.user,
                                          title=request.POST.get("title", ""),
                                          risk_type=request.POST.get("risk_type", ""))
        if not found:
            raise actions.GovernanceError("Choose the risk statements to file.")
        actions.do_file_under(found, theme, actor=request.user)
    except (actions.GovernanceError, Theme.DoesNotExist) as error:
        messages.error(request, str(error) if isinstance(error, actions.GovernanceError)
                       else "Choose a theme of the trust's.")
    else:
        messages.success(request, f"{len(found)} filed under {theme.title}.")
    return redirect("themes")


@require_POST
def add_control(request):
    me = _keeper(request)
    chosen = list(Theme.objects.filter(
        pk__in=[int(i) for i in request.POST.getlist("themes") if i.isdigit()],
        organisation_id=me.organisation_id))
    try:
        actions.do_save_control(me.organisation, actor=request.user,
                                title=request.POST.get("title", ""), themes=chosen,
                                description=request.POST.get("description", ""))
    except actions.GovernanceError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, "Control added to the catalogue.")
    return redirect("themes")
