"""Board assurance on the web: the half-yearly report against the Violence Prevention and
Reduction Standard, pre-filled with Lonewatch's evidence, written by the security
manager, made final and downloaded as a PDF for the board pack. The security management
director, who takes it to the board, reads every report and downloads it."""

from datetime import date

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from lonewatch import clock
from lonewatch.core import pdf
from lonewatch.core import permissions as perms
from lonewatch.governance import actions, assurance
from lonewatch.governance.models import AssuranceReport
from lonewatch.governance.permissions import ASSURANCE
from lonewatch.org.access import access_me


def _may(request, action: str) -> bool:
    me = access_me(request.user)
    return perms.can(request.user, action, ASSURANCE,
                     AssuranceReport(organisation_id=me.organisation_id))


def _reader(request):
    """The security manager, who writes the report, or the security management director,
    who takes it to the board."""
    me = access_me(request.user)
    if not _may(request, perms.VIEW):
        raise PermissionDenied("The board assurance report is for the security manager and "
                               "the security management director.")
    return me


def _keeper(request):
    me = _reader(request)
    if not _may(request, perms.CHANGE):
        raise PermissionDenied("The board assurance report is the security manager's to "
                               "write.")
    return me


def _report(request, report_id, *, keeper: bool = False) -> AssuranceReport:
    me = _keeper(request) if keeper else _reader(request)
    report = AssuranceReport.objects.filter(pk=report_id,
                                            organisation_id=me.organisation_id).first()
    if report is None:
        raise Http404("No such report.")
    return report


def reports(request):
    me = _reader(request)
    today = timezone.localdate(clock.now())
    # The NHS's halves: April to September, October to March.
    if 4 <= today.month <= 9:
        half = date(today.year, 4, 1)
    else:
        half = date(today.year if today.month >= 10 else today.year - 1, 10, 1)
    return render(request, "governance/assurance_list.html", {
        "reports": AssuranceReport.objects.filter(organisation_id=me.organisation_id),
        "start": half, "end": today, "writer": _may(request, perms.CHANGE)})


@require_POST
def start(request):
    me = _keeper(request)
    try:
        report = actions.do_start_assurance(
            me.organisation, actor=request.user,
            period_start=date.fromisoformat(request.POST.get("period_start", "")),
            period_end=date.fromisoformat(request.POST.get("period_end", "")))
    except ValueError as error:
        messages.error(request, str(error) if isinstance(error, actions.GovernanceError)
                       else "Enter the dates as real dates.")
        return redirect("assurance")
    return redirect("assurance_report", report.pk)


def report(request, report_id):
    found = _report(request, report_id)
    return render(request, "governance/assurance.html", _context(request, found))


def _context(request, found: AssuranceReport) -> dict:
    """The report's parts: the evidence frozen when it was made final, else as it is."""
    evidence = found.evidence if found.finalised_at else assurance.gather(request.user)
    return {"report": found, "parts": assurance.parts(evidence, found.written),
            "not_yet": assurance.NOT_YET, "organisation": found.organisation,
            "writer": _may(request, perms.CHANGE)}


@require_POST
def write(request, report_id):
    found = _report(request, report_id, keeper=True)
    try:
        for key, _, _ in assurance.PARTS:
            if key in request.POST:
                found = actions.do_write_assurance(found, actor=request.user, part=key,
                                                   text=request.POST[key])
        if request.POST.get("final") == "yes":
            actions.do_finalise_assurance(found, actor=request.user)
    except actions.GovernanceError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, "Saved.")
    return redirect("assurance_report", found.pk)


def report_pdf(request, report_id):
    found = _report(request, report_id)
    body = pdf.render("governance/assurance_pdf.html", _context(request, found))
    response = HttpResponse(body, content_type="application/pdf")
    response["Content-Disposition"] = (f'attachment; filename="board-assurance-'
                                       f'{found.period_end:%Y-%m-%d}.pdf"')
    return response
