"""The security manager's pages for recordings (REC-01 … REC-05): the review queue, a
case page (the recording, the alarm's timeline, the decision and its letters, the
holds), the recordings kept and the destruction log. Every change goes through
``recordings.actions``."""

from datetime import date

from django.contrib import messages as flash
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from lonewatch import clock
from lonewatch.alarms import audio
from lonewatch.alarms.access import access_alarm
from lonewatch.core import permissions as perms
from lonewatch.core.permissions import CHANGE, VIEW, can
from lonewatch.letters import actions as letters
from lonewatch.letters.models import Letter
from lonewatch.org.access import access_me
from lonewatch.recordings import actions, retention
from lonewatch.recordings.access import Destroyed, access_hold, access_kept
from lonewatch.recordings.models import (
    AccessRequest,
    Destruction,
    Hold,
    Recording,
    Review,
    SubjectAccessRequest,
)
from lonewatch.recordings.permissions import EXEMPTION, RECORDING, RETENTION, REVIEW


def _reviews_of(user):
    if not perms.can_anywhere(user, VIEW, REVIEW):
        raise PermissionDenied("The review queue is the security manager's.")
    return perms.filter_visible(user, Review.objects.select_related(
        "alarm__worker", "decided_by"), kind=REVIEW)


def review_queue(request):
    reviews = _reviews_of(request.user)
    now = clock.now()
    waiting = list(reviews.filter(decided_at__isnull=True).order_by("due_at"))
    for review in waiting:
        review.overdue_days = (now - review.due_at).days if review.due_at <= now else None
    return render(request, "recordings/queue.html", {
        "waiting": waiting, "overdue": sum(1 for r in waiting if r.overdue_days is not None),
        "decided": reviews.filter(decided_at__isnull=False).order_by("-decided_at")[:50],
    })


def _case(user, alarm_id: int) -> dict:
    alarm = access_alarm(user, alarm_id)
    review = Review.objects.filter(alarm=alarm).first()
    may_hear = can(user, VIEW, RECORDING, Recording(alarm=alarm, organisation_id=alarm
                                                    .organisation_id))
    may_review = review is not None and can(user, VIEW, REVIEW, review)
    if not (may_hear or may_review):
        raise PermissionDenied("Only the security manager opens a case.")
    recording = Recording.objects.filter(alarm=alarm).first()
    pending = review is not None and review.open
    may_hold = recording is not None and not recording.destroyed and can(
        user, CHANGE, RECORDING, recording)
    return {
        "alarm": alarm, "review": review, "recording": recording,
        "decision": retention.decide(alarm, review_pending=pending),
        "may_hear": may_hear,
        "may_decide": review is not None and review.open and can(user, CHANGE, REVIEW, review),
        "may_agree": review is not None and review.open
        and review.reason == Review.Reason.CLOSED_SAFELY
        and review.exemption_agreed_at is None and can(user, CHANGE, EXEMPTION, review),
        "may_hold": may_hold,
        "events": alarm.events.select_related("actor").order_by("seq"),
        "holds": recording.holds.select_related("placed_by", "released_by")
        if recording else [],
        "letters": Letter.objects.filter(about_kind="review", about_id=review.pk)
        if review and may_review else [],
        "decisions": [(d, Review.Decision(d).label) for d in review.decisions] if review else [],
        "hold_reasons": Hold.Reason.choices,
        "access_requests": recording.access_requests.select_related("entered_by")
        if recording and may_hold else [],
        "subject_access": recording.subject_access_requests.all()
        if recording and may_hold else [],
        "outcomes": SubjectAccessRequest.Outcome.choices,
        "link_days": actions.POLICE_LINK_DAYS, "link_uses": actions.POLICE_LINK_USES,
        "destruction": getattr(recording, "destruction", None) if recording and
        recording.destroyed else None,
    }


def case(request, alarm_id: int):
    context = _case(request.user, alarm_id)
    recording = context["recording"]
    # The page lists the takes to play: a listing, audited as every play is (REC-03).
    context["takes"] = audio.listed(context["alarm"], actor=request.user) if (
        context["may_hear"] and recording is not None and not recording.destroyed
        and recording.alarm.audio_chunks.exists()) else []
    return render(request, "recordings/case.html", context | {
        "errors": request.session.pop("recording_errors", []),
        "police_link": request.session.pop("police_link", None), "today": clock.now()})


def _back(request, alarm_id: int, error: str | None = None, field: str | None = None):
    if error:
        request.session["recording_errors"] = [(f"#{field}" if field else "", error)]
    return redirect(reverse("recording_case", args=[alarm_id]) + ("#errors" if error else ""))


def _done(request, alarm_id: int, change, said: str, *, field: str = ""):
    """Make ``change`` (an action, called without arguments) and go back to the case page:
    with ``said`` if it was made, or with the refusal, pointing at the field it names
    (``field`` is the prefix of the form's field ids)."""
    try:
        change()
    except (actions.RecordingError, letters.LetterError) as error:
        return _back(request, alarm_id, str(error), f"{field}{error.field}" if error.field
                     else None)
    except (actions.RecordingConflict, Destroyed) as error:
        return _back(request, alarm_id, str(error))
    flash.success(request, said)
    return _back(request, alarm_id)


@require_POST
def decide(request, alarm_id: int):
    alarm = access_alarm(request.user, alarm_id)
    review = Review.objects.filter(alarm=alarm).first()
    if review is None:
        raise Http404("This alarm has no review.")
    fields = ("decision", "note", "recipient_name", "recipient_address", "incident_place")
    return _done(request, alarm_id, lambda: actions.do_decide_review(
        review, actor=request.user, **{name: request.POST.get(name, "") for name in fields}),
        "The review is recorded.")


@require_POST
def agree_exemption(request, alarm_id: int):
    alarm = access_alarm(request.user, alarm_id)
    review = Review.objects.filter(alarm=alarm).first()
    if review is None:
        raise Http404("This alarm has no review.")
    return _done(request, alarm_id, lambda: actions.do_agree_exemption(
        review, actor=request.user, reason=request.POST.get("reason", "")),
        "Your agreement to a clinical exemption is recorded.")


@require_POST
def place_hold(request, alarm_id: int):
    return _done(request, alarm_id, lambda: actions.do_place_hold(
        access_kept(request.user, alarm_id), actor=request.user,
        reason=request.POST.get("reason", ""), detail=request.POST.get("detail", "")),
        "The legal hold is in place: the recording will not be destroyed until it is "
        "released.", field="hold-")


@require_POST
def release_hold(request, hold_id: int):
    hold = access_hold(request.user, hold_id)
    alarm_id = hold.recording.alarm_id
    return _done(request, alarm_id, lambda: actions.do_release_hold(
        hold, actor=request.user, note=request.POST.get("note", "")),
        "The hold is released. The recording's own date applies again.")


def letter(request, letter_id: int):
    found = Letter.objects.filter(pk=letter_id, about_kind="review").first()
    review = Review.objects.filter(pk=found.about_id).select_related(
        "alarm__worker__team").first() if found else None
    if review is None or not can(request.user, VIEW, REVIEW, review):
        raise Http404("No such letter, or not one you can see.")
    if not can(request.user, CHANGE, REVIEW, review):
        raise PermissionDenied("Only the security manager opens the letters of a case.")
    response = HttpResponse(letters.read_letter(found, actor=request.user),
                            content_type="application/pdf")
    response["Content-Disposition"] = \
        f'attachment; filename="{found.purpose}-letter-{actions.reference(review)}.pdf"'
    return response


def kept(request):
    if not perms.can_anywhere(request.user, VIEW, RETENTION):
        raise PermissionDenied("Only the security manager sees the recordings kept.")
    recordings = perms.filter_visible(request.user, Recording.objects.select_related(
        "alarm__worker"), kind=RECORDING).filter(destroyed_at__isnull=True)
    held = recordings.filter(actions.held())
    return render(request, "recordings/kept.html", {
        "held": held.order_by("delete_after"),
        "due": recordings.exclude(pk__in=held).filter(delete_after__isnull=False)
        .order_by("delete_after")[:200],
        "open": recordings.filter(delete_after__isnull=True).exclude(pk__in=held)
        .order_by("-alarm__raised_at")[:200],
        "police": AccessRequest.objects.filter(recording__in=recordings).exclude(
            state=AccessRequest.State.REFUSED).select_related("recording__alarm__worker")
        .order_by("-entered_at")[:100],
        "subject_access": SubjectAccessRequest.objects.filter(
            recording__in=recordings, closed_at__isnull=True).select_related(
            "recording__alarm__worker").order_by("due_on"),
        "periods": retention.periods(),
    })


def destroyed(request):
    if not perms.can_anywhere(request.user, VIEW, RETENTION):
        raise PermissionDenied("Only the security manager reads the destruction log.")
    me = access_me(request.user)
    return render(request, "recordings/destroyed.html", {
        "log": Destruction.objects.filter(organisation_id=me.organisation_id)[:500]})



# --- the police's requests and their links (REC-03) ----------------------------------------

def _int(value, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


@require_POST
def request_access(request, alarm_id: int):
    return _done(request, alarm_id, lambda: actions.do_request_access(
        access_kept(request.user, alarm_id), actor=request.user,
        **{name: request.POST.get(name, "") for name in
           ("officer", "force", "crime_reference", "reason", "officer_email")}),
        "The police request is recorded. Approve or refuse it below.", field="police-")


@require_POST
def decide_access(request, access_id: int, verdict: str):
    found = AccessRequest.objects.select_related("recording__alarm__worker__team").filter(
        pk=access_id).first()
    if found is None or not can(request.user, VIEW, RECORDING, found.recording):
        raise Http404("No such request, or not one you can see.")
    alarm_id = found.recording.alarm_id

    def approve():
        _found, secret = actions.do_approve_access(
            found, actor=request.user, days=_int(request.POST.get("days"), 0),
            uses=_int(request.POST.get("uses"), 0), note=request.POST.get("note", ""))
        request.session["police_link"] = {
            "id": found.pk, "link": request.build_absolute_uri(reverse("police_link",
                                                                       args=[secret]))}

    verdicts = {
        "approve": (approve, "Approved. Send the officer the link below: it is shown once "
                             "only."),
        "refuse": (lambda: actions.do_refuse_access(found, actor=request.user,
                                                    note=request.POST.get("note", "")),
                   "The request is refused."),
        "revoke": (lambda: actions.do_revoke_access(found, actor=request.user),
                   "The link is withdrawn: it no longer works."),
    }
    if verdict not in verdicts:
        raise Http404("No such decision.")
    change, said = verdicts[verdict]
    return _done(request, alarm_id, change, said, field=f"access-{access_id}-")


@login_not_required
def police_link(request, secret: str):
    """What a police officer opens from the link the security manager sent: no account,
    no personal details beyond what the request named; each download counts."""
    try:
        found = actions.by_link(secret)
    except actions.LinkRefused as refused:
        return render(request, "recordings/police_link.html", {"refused": str(refused)},
                      status=410)
    return render(request, "recordings/police_link.html", {
        "request_": found, "takes": audio.takes(found.recording.alarm), "secret": secret,
        "uses_left": found.uses_allowed - found.uses})


@login_not_required
def police_download(request, secret: str, take: int):
    try:
        data, content_type = actions.use_link(secret, take=take)
    except actions.LinkRefused as refused:
        return HttpResponse(str(refused), status=410, content_type="text/plain")
    except actions.RecordingError as error:
        return HttpResponse(str(error), status=404, content_type="text/plain")
    response = HttpResponse(data, content_type=content_type)
    extension = {"audio/webm": "webm", "audio/ogg": "ogg", "audio/wav": "wav",
                 "audio/x-wav": "wav", "audio/mpeg": "mp3", "audio/mp4": "m4a",
                 "audio/aac": "aac"}.get(content_type, "bin")
    response["Content-Disposition"] = f'attachment; filename="recording-take-{take}.{extension}"'
    return response


# --- subject access requests (REC-06) ------------------------------------------------------

def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise actions.RecordingError("Give the date the request was received, as "
                                     "2026-11-30.", "received_on") from None


@require_POST
def log_subject_access(request, alarm_id: int):
    return _done(request, alarm_id, lambda: actions.do_log_subject_access(
        access_kept(request.user, alarm_id), actor=request.user,
        requester=request.POST.get("requester", ""),
        received_on=_day(request.POST.get("received_on", ""))),
        "The subject access request is logged, and a legal hold keeps the recording until "
        "it is closed.", field="sar-")


@require_POST
def close_subject_access(request, sar_id: int):
    found = SubjectAccessRequest.objects.select_related(
        "recording__alarm__worker__team").filter(pk=sar_id).first()
    if found is None or not can(request.user, CHANGE, RECORDING, found.recording):
        raise Http404("No such request, or not one you can see.")
    alarm_id = found.recording.alarm_id
    return _done(request, alarm_id, lambda: actions.do_close_subject_access(
        found, actor=request.user, outcome=request.POST.get("outcome", ""),
        note=request.POST.get("note", "")),
        "The subject access request is closed.", field=f"sar-{sar_id}-")
