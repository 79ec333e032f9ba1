"""The day's plan on the phone: planning a visit, its briefing, starting it in one tap,
moving and cancelling it, a manager's exception; and during a visit, warning signs and
"withdrawing now" (MOV-01, PRE-04, PRE-05, PRE-06)."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from lonewatch import clock
from lonewatch.core import permissions as perms
from lonewatch.escalation.models import Target
from lonewatch.escalation.policy import steps_for
from lonewatch.markers import access as markers
from lonewatch.markers import actions as marker_actions
from lonewatch.org.access import access_me
from lonewatch.org.people import line_managers, role_holders
from lonewatch.org.roles import Role
from lonewatch.visits import actions
from lonewatch.visits.access import access_planned_visit, access_session, place_notes
from lonewatch.visits.actions import SessionError
from lonewatch.visits.forms import (
    CompanyForm,
    ExceptionForm,
    MoveForm,
    PlanForm,
    read_coordinate,
)
from lonewatch.visits.models import PlannedVisit


def landing(request):
    """After sign-in a lone worker lands on My day; everyone else on the home page."""
    if Role.LONE_WORKER in perms.roles_of(request.user):
        return redirect("my_day")
    return redirect("home")


def plan_new(request):
    me = access_me(request.user)
    form = PlanForm(request.POST or None, initial={"day": timezone.localdate(clock.now())})
    if request.method == "POST" and form.is_valid():
        try:
            visit, risk = actions.do_plan_visit(me, actor=request.user, buddy=me.buddy,
                                                **form.visit_values())
        except SessionError as error:
            form.add_error(error.field if error.field in form.fields else None, str(error))
        else:
            messages.success(request, "Visit planned. It is high risk: read the briefing."
                             if risk.high else "Visit planned.")
            return redirect("visit", visit.pk)
    return render(request, "visits/plan_new.html", {"form": form, "me": me},
                  status=400 if form.errors else 200)


def _contacts(visit: PlannedVisit) -> list[tuple[str, str, list]]:
    """PRE-05: who is told if the worker misses a check-in, step by step."""
    worker = visit.worker
    people = {Target.WORKER: [worker], Target.BUDDY: [visit.buddy],
              Target.LINE_MANAGER: line_managers(worker),
              Target.SENIOR_MANAGER: role_holders(Role.SENIOR_MANAGER, worker),
              Target.ALARM_CENTRE: [],
              Target.POLICE_ADVICE: line_managers(worker)}
    return [(step.when, Target(step.target).label, people.get(step.target, []))
            for step in steps_for(worker.team) if step.target != Target.WORKER]


def visit(request, visit_id, move_form=None, exception_form=None, company_form=None,
          status=200):
    """PRE-05: the briefing: the markers and their advice, the last visits' safety notes,
    the team's emergency equipment to confirm, the buddy and the escalation contacts;
    and what can be done with the visit."""
    visit = access_planned_visit(request.user, visit_id)
    me = access_me(request.user)
    mine = visit.worker_id == me.pk
    check = markers.precheck_for(request.user, deciding=visit, nhs_number=visit.nhs_number,
                                 local_id=visit.service_user_ref, postcode=visit.postcode,
                                 address=visit.address)
    team = visit.worker.team
    context = {
        "visit": visit, "me": me, "mine": mine, "check": check,
        "notes": place_notes(me.organisation_id, visit.postcode, visit.address),
        "equipment": team.equipment if team else [],
        "contacts": _contacts(visit),
        "can_except": visit.risk == "high" and visit.exception_at is None and
        visit.is_open and perms.can(request.user, perms.ACT, "planned_visit", visit),
        "move_form": move_form or MoveForm(initial={
            "day": timezone.localtime(visit.planned_start).date(), "venue": visit.venue,
            "address": visit.address,
            "start": timezone.localtime(visit.planned_start).strftime("%H:%M")}),
        "exception_form": exception_form or ExceptionForm(),
        "company_form": company_form or CompanyForm(initial={
            "companion": visit.companion, "companion_name": visit.companion_name}),
        "today": timezone.localdate(clock.now()),
    }
    return render(request, "visits/visit.html", context, status=status)


def _mine(request, visit_id) -> PlannedVisit:
    return access_planned_visit(request.user, visit_id, action=perms.CHANGE)


def _pressed(request, verb, said, *, then, refused_then=None, level=messages.SUCCESS,
             refusal=SessionError):
    """A button that runs one verb: what it did (``said``, or ``said(result)``) or why it
    was refused, as a message on the page it leads back to."""
    try:
        result = verb()
    except refusal as error:
        messages.error(request, str(error))
        return redirect(*(refused_then or then))
    messages.add_message(request, level, said(result) if callable(said) else said)
    return redirect(*then)


def _posted(request, visit_id, form, verb, said, *, form_name, field=None):
    """A form on the visit page that runs one verb: on success back to the visit with the
    message; otherwise the page again, the form showing why (``field``, or the field the
    refusal names)."""
    if form.is_valid():
        try:
            verb(form.cleaned_data)
        except SessionError as error:
            name = field or error.field
            form.add_error(name if name in form.fields else None, str(error))
        else:
            messages.success(request, said)
            return redirect("visit", visit_id)
    return visit(request, visit_id, status=400, **{form_name: form})


def _position(request) -> dict:
    return {"lat": read_coordinate(request.POST.get("lat")),
            "lon": read_coordinate(request.POST.get("lon")),
            "accuracy_m": read_coordinate(request.POST.get("accuracy"))}


@require_POST
def visit_start(request, visit_id):
    planned = _mine(request, visit_id)
    return _pressed(request, lambda: actions.do_start_planned(
        planned, actor=request.user, **_position(request)),
        "Visit started. Your buddy is watching.",
        then=("my_day",), refused_then=("visit", planned.pk))


@require_POST
def visit_briefed(request, visit_id):
    planned = _mine(request, visit_id)
    return _pressed(request, lambda: actions.do_confirm_briefing(planned, actor=request.user),
                    "Briefing confirmed.", then=("visit", planned.pk))


@require_POST
def visit_cancel(request, visit_id):
    planned = _mine(request, visit_id)
    return _pressed(request, lambda: actions.do_cancel_visit(
        planned, actor=request.user, reason=request.POST.get("reason", "")[:300]),
        "Visit cancelled. Your buddy has been told.",
        then=("my_day",), refused_then=("visit", planned.pk))


@require_POST
def visit_move(request, visit_id):
    planned = _mine(request, visit_id)
    form = MoveForm(request.POST)
    return _posted(request, planned.pk, form, lambda _: actions.do_move_visit(
        planned, actor=request.user, **form.move_values()),
        "Visit moved. Your buddy has been told.", form_name="move_form")


@require_POST
def visit_company(request, visit_id):
    planned = _mine(request, visit_id)
    return _posted(request, planned.pk, CompanyForm(request.POST), lambda values:
                   actions.do_record_company(planned, actor=request.user, **values),
                   "Saved: who goes with you.", form_name="company_form")


@require_POST
def visit_exception(request, visit_id):
    planned = access_planned_visit(request.user, visit_id, action=perms.ACT)
    return _posted(request, planned.pk, ExceptionForm(request.POST), lambda values:
                   actions.do_approve_exception(planned, actor=request.user,
                                                reason=values["reason"]),
                   "Exception approved. The worker may start the visit alone; it is in "
                   "the audit trail.", form_name="exception_form", field="reason")


@require_POST
def session_flag(request, session_id):
    """PRE-06: one tap per warning sign."""
    session = access_session(request.user, session_id, action=perms.CHANGE)
    return _pressed(request, lambda: actions.do_flag(
        session, actor=request.user, signs=request.POST.getlist("sign"),
        **_position(request)), "Noted, with the time.", then=("my_day",))


@require_POST
def session_withdraw(request, session_id):
    """PRE-06: "withdrawing now"."""
    session = access_session(request.user, session_id, action=perms.CHANGE)
    return _pressed(request, lambda: actions.do_withdraw(
        session, actor=request.user, **_position(request)),
        lambda withdrawn: "Your buddy has been told you are leaving. Get somewhere safe "
                          f"and check in by {clock.hhmm(withdrawn.due_at)}.",
        then=("my_day",), level=messages.WARNING)


@require_POST
def session_propose(request, session_id):
    """PRE-06: the visit's warning signs proposed as a new marker."""
    session = access_session(request.user, session_id)
    return _pressed(request, lambda: marker_actions.do_propose_marker(
        session, actor=request.user, note=request.POST.get("note", "")[:1000]),
        "Sent to the security manager to add to the risk register. Thank you.",
        then=("my_day",), refusal=marker_actions.MarkerError)
