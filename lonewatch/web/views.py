"""Server-rendered pages. Thin: permissions come from core.permissions, changes
from the apps' actions modules."""

import logging

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from django.db import DatabaseError, connection
from django.db.models import Count, Min, Q
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from lonewatch import clock
from lonewatch.accounts import actions as account_actions
from lonewatch.accounts.models import ApiToken
from lonewatch.core import permissions as perms
from lonewatch.core.models import AuditEvent
from lonewatch.escalation.models import Escalation
from lonewatch.escalation.permissions import POLICY
from lonewatch.governance import waiting
from lonewatch.governance.access import sees_team_sops
from lonewatch.governance.models import Submission
from lonewatch.governance.permissions import ACTIVITIES
from lonewatch.notify.models import Delivery
from lonewatch.notify.views import unproved
from lonewatch.org import actions
from lonewatch.org.access import access_me, access_person, access_team
from lonewatch.org.models import Directorate, Person, Team
from lonewatch.org.permissions import (
    ABSENCE,
    AUDIT,
    CONTACT,
    FITNESS,
    NEXT_OF_KIN,
    SECOND_FACTOR,
    TEAM_PRACTICE,
)
from lonewatch.org.roles import PRIVILEGED_ROLES, Role, is_privileged
from lonewatch.visits.models import Session
from lonewatch.web.forms import AbsenceForm, ContactForm, FitnessForm, NextOfKinForm, TokenForm
from lonewatch.worker.models import Heartbeat

log = logging.getLogger("lonewatch.web")


def _people(user):
    return perms.filter_visible(user, Person.objects.select_related("team", "user"))


def home(request):
    person = getattr(request.user, "person", None)
    if person is None:
        return render(request, "web/no_person.html", status=403)
    roles = perms.roles_of(request.user)
    context = {
        "person": person,
        "roles": sorted(person.roles.all(), key=lambda m: m.role),
        "buddy_requests": Person.objects.filter(buddy=person, buddy_accepted_at__isnull=True),
        "has_next_of_kin": person.next_of_kin.exists(),
        "waiting": waiting.waiting_for(request.user),  # RSK-01, RSK-04, RSK-06, RSK-07
    }
    if Role.LINE_MANAGER in roles:
        managed = [m.team_id for m in perms.memberships(request.user)
                   if m.role == Role.LINE_MANAGER and m.team_id]
        context["team_members"] = (
            _people(request.user).filter(Q(team_id__in=managed) | Q(line_manager=person))
            .select_related("buddy").order_by("full_name")
        )
    if roles & {Role.SENIOR_MANAGER, Role.DIRECTORATE_LEAD, Role.SECURITY_MANAGER,
                Role.SECURITY_DIRECTOR, Role.ADMINISTRATOR}:
        context["teams"] = (
            perms.filter_visible(request.user, Team.objects.select_related("directorate"))
            .annotate(size=Count("members")).order_by("directorate__name", "name")
        )
    if Role.OCCUPATIONAL_HEALTH in roles:
        context["restricted"] = (
            perms.filter_visible(request.user, Person.objects.select_related("team"),
                                 kind=FITNESS)
            .filter(unable_to_work_alone=True).order_by("unable_to_work_alone_review")
        )
    if perms.can_anywhere(request.user, perms.VIEW, AUDIT):
        context["recent_audit"] = _audit_of(request.user).order_by("-at", "-id")[:5]
    return render(request, "web/home.html", context)


def people(request):
    query = request.GET.get("q", "").strip()
    found = _people(request.user).order_by("full_name")
    if query:
        found = found.filter(Q(full_name__icontains=query) | Q(user__username__icontains=query)
                             | Q(team__name__icontains=query))
    return render(request, "web/people.html", {"people": found[:200], "query": query,
                                               "total": found.count()})


def person_detail(request, person_id, absence_form=None, status=200):
    person = access_person(request.user, person_id)
    user = request.user
    fitness_form = None
    if perms.can(user, perms.CHANGE, FITNESS, person):
        fitness_form = FitnessForm(initial={
            "unable_to_work_alone": "yes" if person.unable_to_work_alone else "no",
            "review": person.unable_to_work_alone_review,
        })
    context = {
        "person": person,
        "roles": person.roles.select_related("team", "directorate"),
        "can_contact": perms.can(user, perms.VIEW, CONTACT, person),
        "can_next_of_kin": perms.can(user, perms.VIEW, NEXT_OF_KIN, person),
        "can_fitness": perms.can(user, perms.VIEW, FITNESS, person),
        "fitness_form": fitness_form,
        "can_absence": perms.can(user, perms.VIEW, ABSENCE, person),
        "can_change_absence": perms.can(user, perms.CHANGE, ABSENCE, person),
        "absences": person.absences.filter(ends_at__gt=clock.now()).order_by("starts_at"),
        "absence_form": absence_form or AbsenceForm(),
        "review_overdue": person.unable_to_work_alone and person.unable_to_work_alone_review
        is not None and person.unable_to_work_alone_review <= timezone.localdate(clock.now()),
    }
    if perms.can(user, perms.CHANGE, SECOND_FACTOR, person) and person.user_id != user.pk:
        # ORG-06: an administrator may open enrolment of a first authenticator app.
        context["enrolment"] = {
            "enrolled": account_actions.has_authenticator(person.user),
            "open": account_actions.open_enrolment(person.user),
            "privileged": bool({m.role for m in context["roles"]} & PRIVILEGED_ROLES),
            "hours": settings.ENROLMENT_OPEN_HOURS,
        }
    return render(request, "web/person_detail.html", context, status=status)


@require_POST
def person_enrolment(request, person_id):
    """ORG-06: an administrator opens enrolment of a first authenticator app for someone
    who cannot be sent a link, or whose link did not come (audited)."""
    person = access_person(request.user, person_id, kind=SECOND_FACTOR,
                           action=perms.CHANGE)
    try:
        grant = account_actions.do_open_enrolment(person.user, actor=request.user)
    except account_actions.EnrolmentError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"Enrolment is open for {person.full_name} until "
                                  f"{timezone.localtime(grant.expires_at):%H:%M on %d %b}. "
                                  "Ask them to sign in and set up their authenticator app.")
    return redirect(reverse("person", args=[person.pk]) + "#two-factor")


@require_POST
def person_absence_add(request, person_id):
    person = access_person(request.user, person_id, kind=ABSENCE, action=perms.CHANGE)
    form = AbsenceForm(request.POST)
    if not form.is_valid():
        return person_detail(request, person_id, absence_form=form, status=400)
    actions.do_add_absence(person, actor=request.user, **form.cleaned_data)
    messages.success(request, f"Saved. While {person.full_name} is away, anyone they are "
                              "buddy for must name a cover buddy.")
    return redirect(reverse("person", args=[person.pk]) + "#absences")


@require_POST
def person_absence_remove(request, person_id, absence_id):
    person = access_person(request.user, person_id, kind=ABSENCE, action=perms.CHANGE)
    absence = get_object_or_404(person.absences, pk=absence_id)
    actions.do_remove_absence(absence, actor=request.user)
    messages.success(request, "Absence removed.")
    return redirect(reverse("person", args=[person.pk]) + "#absences")


@never_cache
def person_next_of_kin(request, person_id):
    """Shown on request only, and every showing is audited (ORG-03, ORG-05)."""
    person = access_person(request.user, person_id, kind=NEXT_OF_KIN)
    kin = actions.read_next_of_kin(person, actor=request.user)
    return render(request, "web/_next_of_kin.html", {"person": person, "kin": kin})


@require_POST
def person_fitness(request, person_id):
    person = access_person(request.user, person_id, kind=FITNESS, action=perms.CHANGE)
    form = FitnessForm(request.POST)
    if form.is_valid():
        actions.do_set_fitness(person, unable=form.cleaned_data["unable_to_work_alone"],
                               review=form.cleaned_data.get("review"), actor=request.user)
        messages.success(request, f"Saved: {person.full_name}'s fitness to work alone.")
        return redirect("person", person_id=person.pk)
    return render(request, "web/person_detail.html", {
        "person": person, "roles": person.roles.all(), "can_fitness": True,
        "can_contact": perms.can(request.user, perms.VIEW, CONTACT, person),
        "can_next_of_kin": perms.can(request.user, perms.VIEW, NEXT_OF_KIN, person),
        "fitness_form": form,
    }, status=400)


def teams(request):
    visible = (
        perms.filter_visible(request.user, Team.objects.select_related("directorate"))
        .annotate(size=Count("members")).order_by("directorate__name", "name")
    )
    directorates = perms.filter_visible(request.user, Directorate.objects.all())
    return render(request, "web/teams.html", {"teams": visible, "directorates": directorates,
                                              "can_default_policy": _can_default_policy(request)})


def team_detail(request, team_id, status=200):
    team = access_team(request.user, team_id)
    members = _people(request.user).filter(team=team).select_related("buddy").order_by(
        "full_name")
    return render(request, "web/team_detail.html", {
        "team": team, "members": members,
        "can_policy": perms.can(request.user, perms.VIEW, POLICY, team),
        "can_default_policy": _can_default_policy(request),
        "can_practice": perms.can(request.user, perms.CHANGE, TEAM_PRACTICE, team),
        "can_sop": sees_team_sops(request.user, team),
        "can_activities": perms.can(request.user, perms.VIEW, ACTIVITIES,
                                    Submission(team=team, version=0))},
        status=status)


@require_POST
def team_practice(request, team_id):
    """MOV-01, PRE-05: the line manager keeps the team's no-show grace and its emergency
    equipment list."""
    team = access_team(request.user, team_id)
    if not perms.can(request.user, perms.CHANGE, TEAM_PRACTICE, team):
        raise PermissionDenied("Only the team's line manager changes how it works alone.")
    try:
        minutes = int(request.POST.get("no_show_grace_minutes", ""))
    except ValueError:
        messages.error(request, "Enter the grace in whole minutes, such as 15.")
        return team_detail(request, team_id, status=400)
    try:
        actions.do_set_team_practice(team, actor=request.user, no_show_grace_minutes=minutes,
                                     emergency_equipment=request.POST.get(
                                         "emergency_equipment", "")[:7000])
    except actions.PracticeError as error:
        messages.error(request, str(error))
        return team_detail(request, team_id, status=400)
    messages.success(request, "Saved.")
    return redirect("team", team.pk)


def _can_default_policy(request) -> bool:
    """May the user see the trust default escalation policy (ESC-01)?"""
    person = getattr(request.user, "person", None)
    return person is not None and perms.can(request.user, perms.VIEW, POLICY,
                                            person.organisation)


def profile(request):
    person = access_me(request.user)
    contact_form = ContactForm(initial={
        "mobile": person.mobile, "email": person.email,
        "vehicle_description": person.vehicle_description, "description": person.description,
        "known_breaks": person.known_breaks,
    })
    return _profile(request, person, contact_form=contact_form)


def _profile(request, person, *, status=200, contact_form=None, kin_form=None, token_form=None,
             new_token=None):
    return render(request, "web/profile.html", {
        "person": person,
        "contact_form": contact_form or ContactForm(initial={
            "mobile": person.mobile, "email": person.email,
            "vehicle_description": person.vehicle_description,
            "description": person.description, "known_breaks": person.known_breaks}),
        "kin_form": kin_form or NextOfKinForm(),
        "token_form": token_form or TokenForm(),
        "kin": person.next_of_kin.all(),
        "tokens": ApiToken.objects.filter(user=request.user),
        "new_token": new_token,
        # Q-SEC: a token with the privileged roles is offered only after the second factor.
        "can_privileged_token": is_privileged(request.user)
        and request.user.is_verified(),
        "privileged_token_days": settings.PRIVILEGED_TOKEN_DAYS,
        "buddy_requests": Person.objects.filter(buddy=person, buddy_accepted_at__isnull=True),
        "alert_gaps": unproved(person),
    }, status=status)


@require_POST
def profile_contact(request):
    person = access_me(request.user)
    form = ContactForm(request.POST)
    if not form.is_valid():
        return _profile(request, person, status=400, contact_form=form)
    actions.do_update_contact(person, actor=request.user, **form.cleaned_data)
    messages.success(request, "Your contact details are saved.")
    return redirect("profile")


@require_POST
def profile_kin_add(request):
    person = access_me(request.user)
    form = NextOfKinForm(request.POST)
    if not form.is_valid():
        return _profile(request, person, status=400, kin_form=form)
    actions.do_add_next_of_kin(person, actor=request.user, **form.cleaned_data)
    messages.success(request, "Next of kin added.")
    return redirect("profile")


@require_POST
def profile_kin_remove(request, kin_id):
    person = access_me(request.user)
    kin = get_object_or_404(person.next_of_kin, pk=kin_id)
    actions.do_remove_next_of_kin(kin, actor=request.user)
    messages.success(request, "Next of kin removed.")
    return redirect("profile")


@require_POST
def profile_token_create(request):
    person = access_me(request.user)
    form = TokenForm(request.POST)
    if not form.is_valid():
        return _profile(request, person, status=400, token_form=form)
    privileged = form.cleaned_data["privileged"]
    if privileged and not (is_privileged(request.user) and request.user.is_verified()):
        form.add_error(None, "Only a privileged role signed in with its authenticator "
                                     "app can make a token that acts with that role.")
        return _profile(request, person, status=400, token_form=form)
    _token, raw = account_actions.do_create_token(request.user, name=form.cleaned_data["name"],
                                                  actor=request.user, privileged=privileged)
    return _profile(request, person, new_token=raw)


@require_POST
def profile_token_revoke(request, token_id):
    token = get_object_or_404(ApiToken, pk=token_id, user=request.user)
    account_actions.do_revoke_token(token, actor=request.user)
    messages.success(request, f"Token '{token.name}' revoked. That device can no longer sign in.")
    return redirect("profile")


@require_POST
def buddy_accept(request, person_id):
    me = access_me(request.user)
    person = get_object_or_404(Person, pk=person_id, buddy=me)
    actions.do_accept_buddy(person, actor=request.user)
    messages.success(request, f"You are now {person.full_name}'s buddy.")
    return redirect(request.POST.get("next") or "home")


def _audit_of(user):
    """ORG-03: the reader's own organisation's trail. Events written before events named
    their organisation are placed by who did them."""
    organisation_id = access_me(user).organisation_id
    return AuditEvent.objects.filter(
        Q(organisation_id=organisation_id)
        | Q(organisation_id__isnull=True, actor__person__organisation_id=organisation_id))


def audit_trail(request):
    if not perms.can_anywhere(request.user, perms.VIEW, AUDIT):
        raise PermissionDenied("Only the security manager, the security management director "
                               "and administrators can read the audit trail.")
    events = _audit_of(request.user).select_related("actor").order_by("-at", "-id")
    object_filter = request.GET.get("object", "").strip()
    if object_filter:
        kind, _, pk = object_filter.partition(":")
        events = events.filter(object_type=kind, object_id=pk)
    return render(request, "web/audit.html", {"events": events[:200],
                                              "object_filter": object_filter})


@login_not_required
@never_cache
def healthz(request):
    """For load balancers and monitoring: is the database there, is a worker alive?"""
    body = {"status": "ok", "database": "ok"}
    status = 200
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        newest = Heartbeat.objects.order_by("-beat_at").values_list("beat_at", flat=True).first()
        now = clock.now()
        # The watchdog's view: work whose time has come and gone without being done.
        backlog = {
            "oldest_missed_deadline_seconds": Session.objects.filter(
                state=Session.State.ACTIVE, due_at__lt=now).aggregate(t=Min("due_at"))["t"],
            "oldest_overdue_step_seconds": Escalation.objects.filter(
                next_step_at__lt=now).aggregate(t=Min("next_step_at"))["t"],
            "oldest_pending_message_seconds": Delivery.objects.filter(
                status=Delivery.Status.PENDING, next_attempt_at__lt=now,
                attempts=0).aggregate(t=Min("created_at"))["t"],
        }
    except DatabaseError:
        # The error names hosts and ports: it goes to the log, not to anonymous callers.
        log.exception("health check: database unreachable")
        return JsonResponse({"status": "error", "database": "unreachable"}, status=503)
    for name, since in backlog.items():
        age = round((now - since).total_seconds(), 1) if since else None
        body[name] = age
        if age is not None and age > settings.WATCHDOG_GRACE_SECONDS:
            body["status"] = "degraded"
            body["escalation"] = "behind"
    body.setdefault("escalation", "ok")
    if newest is None:
        body["worker"] = "none"
        body["worker_heartbeat_age_seconds"] = None
        body["status"] = "degraded"
    else:
        age = (clock.now() - newest).total_seconds()
        body["worker_heartbeat_age_seconds"] = round(age, 1)
        stale = age > 3 * settings.WORKER_HEARTBEAT_SECONDS + 5
        body["worker"] = "stale" if stale else "ok"
        if stale:
            body["status"] = "degraded"
    # A dead worker is reported, not turned into a 503: taking the web server out
    # of a load balancer would also stop check-ins and alarms from arriving.
    return JsonResponse(body, status=status)


