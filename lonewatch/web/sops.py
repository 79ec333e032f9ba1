"""A team's SOP and the trust's guidance as pages (RSK-04, RSK-01, RSK-02): everyone in
the team reads the approved SOP; the line manager keeps the draft (themes from the
catalogue, local arrangements) and submits it; the directorate lead approves it or
returns it; both download it as a PDF or a Word document. Thin: who may is asked of
``governance.access``, changes are ``governance.sops``' verbs."""

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from lonewatch.core import pdf
from lonewatch.core import permissions as perms
from lonewatch.governance import actions, documents, sops
from lonewatch.governance.access import (
    access_guidance,
    access_sop,
    access_team_sops,
    reads_guidance,
    versions,
)
from lonewatch.governance.actions import GovernanceError
from lonewatch.governance.models import Sop, Theme
from lonewatch.governance.permissions import SOP
from lonewatch.org.access import access_me


def my_team_sop(request):
    """The SOP of the team the person is in (the menu's "Team SOP")."""
    me = access_me(request.user)
    if me.team_id is None:
        raise Http404("You are not in a team, so there is no team SOP for you.")
    return redirect("team_sop", me.team_id)


def team_sop(request, team_id):
    team, every = access_team_sops(request.user, team_id)
    in_force = sops.current(team)
    found = list(versions(team, every))
    open_version = next((s for s in found if s.state in (Sop.State.DRAFT,
                                                         Sop.State.SUBMITTED)), None)
    return render(request, "governance/team_sop.html", {
        "team": team, "sop": in_force,
        "content": sops.sop_content(in_force) if in_force else None,
        "versions": found if every else [], "open_version": open_version,
        "may_start": open_version is None and perms.can(request.user, perms.CHANGE, SOP,
                                                        Sop(team=team)),
        "reads_guidance": reads_guidance(request.user)})


@require_POST
def sop_start(request, team_id):
    team, _ = access_team_sops(request.user, team_id, action=perms.CHANGE)
    try:
        sop = actions.do_start_sop(team, actor=request.user)
    except GovernanceError as error:
        messages.error(request, str(error))
        return redirect("team_sop", team.pk)
    messages.success(request, f"Version {sop.version} started from the last one. Change it "
                              "and submit it for approval.")
    return redirect("sop", sop.pk)


def sop_page(request, sop_id, status=200, posted=None):
    sop = access_sop(request.user, sop_id)
    may_edit = sop.state == Sop.State.DRAFT and perms.can(request.user, perms.CHANGE, SOP, sop)
    context = {
        "sop": sop, "content": sops.sop_content(sop), "may_edit": may_edit,
        "may_decide": sop.state == Sop.State.SUBMITTED and perms.can(
            request.user, perms.ACT, SOP, sop),
        "returned_comments": sops.returned_comments(sop),
    }
    if may_edit:
        chosen = {int(i) for i in posted.getlist("themes") if i.isdigit()} if posted else \
            set(sop.themes.values_list("pk", flat=True))
        suggested = {t.pk for t in actions.suggested_themes(sop.team)}
        context["choices"] = [
            {"theme": t, "chosen": t.pk in chosen, "suggested": t.pk in suggested}
            for t in Theme.objects.filter(
                organisation_id=sop.team.directorate.organisation_id
            ).prefetch_related("controls").order_by("title")]
        context["local_arrangements"] = posted.get("local_arrangements", "") if posted \
            else sop.local_arrangements
    return render(request, "governance/sop.html", context, status=status)


def _refused(request, sop_id, error: GovernanceError, posted=None):
    messages.error(request, str(error))
    return sop_page(request, sop_id, status=400, posted=posted)


@require_POST
def sop_edit(request, sop_id):
    sop = access_sop(request.user, sop_id, action=perms.CHANGE)
    ids = {int(i) for i in request.POST.getlist("themes") if i.isdigit()}
    themes = list(Theme.objects.filter(pk__in=ids,
                                       organisation_id=sop.team.directorate.organisation_id))
    try:
        actions.do_edit_sop(sop, actor=request.user, themes=themes,
                         local_arrangements=request.POST.get("local_arrangements", ""))
    except GovernanceError as error:
        return _refused(request, sop_id, error, posted=request.POST)
    messages.success(request, "Saved.")
    return redirect("sop", sop.pk)


@require_POST
def sop_submit(request, sop_id):
    sop = access_sop(request.user, sop_id, action=perms.CHANGE)
    try:
        actions.do_submit_sop(sop, actor=request.user)
    except GovernanceError as error:
        return _refused(request, sop_id, error)
    messages.success(request, "Sent to the directorate lead for approval.")
    return redirect("sop", sop.pk)


@require_POST
def sop_decision(request, sop_id):
    sop = access_sop(request.user, sop_id, action=perms.ACT)
    decision = request.POST.get("decision")
    if decision not in ("approve", "return"):
        return _refused(request, sop_id, GovernanceError("Choose whether to approve the SOP "
                                                         "or return it."))
    try:
        actions.do_approve_sop(sop, actor=request.user, approve=decision == "approve",
                            comments=request.POST.get("comments", ""))
    except GovernanceError as error:
        return _refused(request, sop_id, error)
    messages.success(request, "Approved: it is now the team's SOP." if decision == "approve"
                     else "Returned to the team's line manager with your comments.")
    return redirect("sop", sop.pk)


def _download(data: bytes, content_type: str, name: str) -> HttpResponse:
    response = HttpResponse(data, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def _pdf_of(make, content: dict, name: str) -> HttpResponse:
    try:
        return _download(make(content), documents.PDF, name)
    except pdf.PdfUnavailable:
        return HttpResponse("PDFs cannot be made on this server. Download the Word document "
                            "instead.", status=503, content_type="text/plain")


def sop_pdf(request, sop_id):
    content = sops.sop_content(access_sop(request.user, sop_id))
    return _pdf_of(documents.sop_pdf, content, documents.sop_filename(content, "pdf"))


def sop_docx(request, sop_id):
    content = sops.sop_content(access_sop(request.user, sop_id))
    return _download(documents.sop_docx(content), documents.DOCX,
                     documents.sop_filename(content, "docx"))


def guidance(request):
    return render(request, "governance/guidance.html",
                  {"content": sops.guidance_content(access_guidance(request.user))})


def guidance_pdf(request):
    content = sops.guidance_content(access_guidance(request.user))
    return _pdf_of(documents.guidance_pdf, content,
                   documents.guidance_filename(content, "pdf"))


def guidance_docx(request):
    content = sops.guidance_content(access_guidance(request.user))
    return _download(documents.guidance_docx(content), documents.DOCX,
                     documents.guidance_filename(content, "docx"))
