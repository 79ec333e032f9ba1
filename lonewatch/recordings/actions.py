"""What happens to recordings: their retention date kept true, legal holds, the security
manager's review queue, and destruction when the date comes (REC-01 … REC-04).

Every change here runs inside a transaction, writes its audit event, and is the one
implementation that pages, the API, the commands and the worker call.
"""

import hashlib
import secrets
from datetime import timedelta

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from lonewatch import clock
from lonewatch.alarms import actions as alarms
from lonewatch.alarms import timeline
from lonewatch.alarms.audio import takes
from lonewatch.alarms.models import Alarm, AlarmPosition, AudioChunk
from lonewatch.core import audit, vault
from lonewatch.core.permissions import CHANGE, can
from lonewatch.letters import actions as letters
from lonewatch.letters.models import Purpose
from lonewatch.notify import actions as notify
from lonewatch.notify.models import Channel
from lonewatch.recordings import messages, retention
from lonewatch.recordings.models import (
    AccessRequest,
    Destruction,
    Hold,
    Recording,
    Review,
    SubjectAccessRequest,
)
from lonewatch.recordings.permissions import EXEMPTION, REVIEW
from lonewatch.recordings.permissions import RECORDING as RECORDING_KIND
from lonewatch.worker.claim import claim

RECORDING = "recordings.recording"
DESTROY_BATCH = 100


class RecordingError(ValueError):
    """Bad input for a recording's hold or review (HTTP 400): nothing was changed."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


class RecordingConflict(Exception):
    """The recording is not in a state that allows this (HTTP 409)."""


# --- retention kept true ----------------------------------------------------------------

def evidence_changed(alarm: Alarm) -> None:
    """The ``alarms.hooks.evidence_changed`` handler: the alarm's recording row exists,
    its review is opened if the policy asks for one, and its retention date (and that of
    the amber alerts its category links) is decided again. Inside the caller's
    transaction."""
    _open_review_if_due(alarm)
    refresh([alarm.pk])
    if alarm.kind == Alarm.Kind.RED and alarm.state == Alarm.State.CLOSED:
        refresh(retention.ambers_linked_to(alarm))


def recording_of(alarm: Alarm) -> Recording:
    """The alarm's recording row, made (with its rule and date) if it has none yet."""
    with transaction.atomic():
        refresh([alarm.pk])
    return Recording.objects.get(alarm=alarm)


def refresh(alarm_ids: list[int]) -> None:
    """Decide again the rule and date of each alarm's recording (made if missing). A
    destroyed recording stays as it is; a changed date is audited."""
    if not alarm_ids:
        return
    pending = set(Review.objects.filter(alarm_id__in=alarm_ids, decided_at__isnull=True)
                  .values_list("alarm_id", flat=True))
    for alarm in Alarm.objects.filter(pk__in=alarm_ids).select_related("worker"):
        recording, made = Recording.objects.select_for_update().get_or_create(
            alarm=alarm, defaults={"organisation_id": alarm.organisation_id,
                                   "made_by_id": alarm.worker_id})
        if recording.destroyed:
            continue
        decision = retention.decide(alarm, review_pending=alarm.pk in pending)
        changed = (recording.rule, recording.delete_after) != (decision.rule,
                                                               decision.delete_after)
        before = {"rule": recording.rule, "delete_after": recording.delete_after}
        recording.rule, recording.delete_after = decision.rule, decision.delete_after
        # Measured once its audio is complete (an amber's memo comes after the alert).
        if alarm.state == Alarm.State.CLOSED or alarm.kind == Alarm.Kind.AMBER:
            _measure(recording)
            recording.save()
        elif changed:
            recording.save()
        if changed and not made:
            audit.record("recording.retention", actor=None, obj=recording,
                         summary=f"Recording of alarm #{alarm.pk}: {decision.why}"[:300],
                         before=before, after={"rule": decision.rule,
                                               "delete_after": decision.delete_after})


def refresh_all(batch: int = 500) -> int:
    """Decide every kept recording's date again (after the periods were changed).
    Returns how many changed."""
    changed = 0
    kept = Recording.objects.filter(destroyed_at__isnull=True).order_by("pk")
    last = 0
    while True:
        ids = list(kept.filter(pk__gt=last).values_list("pk", "alarm_id")[:batch])
        if not ids:
            return changed
        last = ids[-1][0]
        with transaction.atomic():
            before = dict(Recording.objects.filter(pk__in=[i for i, _ in ids])
                          .values_list("pk", "delete_after"))
            refresh([alarm_id for _, alarm_id in ids])
            after = dict(Recording.objects.filter(pk__in=[i for i, _ in ids])
                         .values_list("pk", "delete_after"))
        changed += sum(1 for pk in before if before[pk] != after[pk])


def _open_review_if_due(alarm: Alarm) -> None:
    """REC-04, ALM-05: a genuine alarm closed safely without the police, or a false alarm
    flagged as possible duress, enters the security manager's queue (once)."""
    if alarm.kind != Alarm.Kind.RED or alarm.state != Alarm.State.CLOSED or alarm.drill:
        return
    if alarm.category == Alarm.Category.GENUINE_SAFE and \
            alarm.escalated_to != "emergency_services":
        reason = Review.Reason.CLOSED_SAFELY
    elif alarm.category == Alarm.Category.FALSE and alarm.duress_suspected:
        reason = Review.Reason.POSSIBLE_DURESS
    else:
        return
    now = clock.now()
    _review, made = Review.objects.get_or_create(alarm=alarm, defaults={
        "organisation_id": alarm.organisation_id, "reason": reason, "opened_at": now,
        "due_at": now + timedelta(days=settings.REVIEW_DAYS)})
    if made:
        audit.record("review.open", actor=None, obj=_review,
                     summary=f"Alarm #{alarm.pk} of {alarm.worker} entered the security "
                             f"manager's review queue: {Review.Reason(reason).label.lower()}")


def _measure(recording: Recording) -> None:
    """What the recording is now: format, size, chunks, checksum, takes, positions."""
    chunks = list(AudioChunk.objects.filter(alarm_id=recording.alarm_id).order_by("seq"))
    recording.format = chunks[0].content_type if chunks else ""
    recording.size = sum(chunk.size for chunk in chunks)
    recording.chunks = len(chunks)
    recording.checksum = hashlib.sha256(
        "".join(chunk.sha256 for chunk in chunks).encode()).hexdigest() if chunks else ""
    recording.takes = [
        {"take": take.number, "first_seq": take.first_seq, "chunks": len(take.parts),
         "bytes": take.size, "waiting": take.waiting,
         "first_received_at": take.parts[0].received_at.isoformat(),
         "last_received_at": take.last_received_at.isoformat(),
         "seconds": round((take.last_received_at - take.parts[0].received_at)
                          .total_seconds())}
        for take in takes(recording.alarm)]
    recording.positions = AlarmPosition.objects.filter(event__alarm_id=recording.alarm_id).count()


# --- legal holds --------------------------------------------------------------------------

def do_place_hold(recording: Recording, *, actor, reason: str, detail: str) -> Hold:
    """REC-02: suspend destruction until the hold is released. A reason and its detail
    (who asked, the reference) are required."""
    detail = (detail or "").strip()
    if reason not in Hold.Reason.values:
        raise RecordingError(f"Choose why the recording is held: one of "
                             f"{', '.join(Hold.Reason.values)}.", "reason")
    if not detail:
        raise RecordingError("Say who asked for the hold and give their reference.",
                             "detail")
    with transaction.atomic():
        recording = Recording.objects.select_for_update().get(pk=recording.pk)
        if recording.destroyed:
            raise RecordingConflict("This recording has already been destroyed: there is "
                                    "nothing left to hold.")
        hold = Hold.objects.create(recording=recording, reason=reason, detail=detail[:500],
                                   placed_by=actor, placed_at=clock.now())
        audit.record("recording.hold", actor=actor, obj=recording,
                     summary=f"Legal hold on the recording of alarm #{recording.alarm_id}: "
                             f"{hold.get_reason_display()}",
                     after={"hold": hold.pk, "reason": reason, "detail": hold.detail})
    return hold


def do_release_hold(hold: Hold, *, actor, note: str) -> Hold:
    """The hold ends; the recording's own date applies again (destroyed at once if it has
    passed)."""
    note = (note or "").strip()
    if not note:
        raise RecordingError("Say why the hold is released.", "note")
    with transaction.atomic():
        hold = Hold.objects.select_for_update(of=("self",)).select_related("recording").get(
            pk=hold.pk)
        if not hold.in_force:
            raise RecordingConflict("This hold has already been released.")
        hold.released_by, hold.released_at, hold.release_note = actor, clock.now(), note[:500]
        hold.save(update_fields=["released_by", "released_at", "release_note"])
        audit.record("recording.release", actor=actor, obj=hold.recording,
                     summary=f"Legal hold released on the recording of alarm "
                             f"#{hold.recording.alarm_id}",
                     after={"hold": hold.pk, "note": hold.release_note})
    return hold


# --- destruction ---------------------------------------------------------------------------

def held() -> Exists:
    """A recording with a legal hold in force (a filter: ``filter(held())``)."""
    return Exists(Hold.objects.filter(recording=OuterRef("pk"), released_at__isnull=True))


def due(now=None):
    """The recordings whose date has come and that no hold keeps."""
    now = now or clock.now()
    return (Recording.objects.filter(destroyed_at__isnull=True, delete_after__lte=now)
            .exclude(held()).order_by("delete_after"))


def destroy_due(limit: int = DESTROY_BATCH) -> int:
    """REC-02: destroy what is due, a batch at a time: every file of each recording (its
    chunks, from the store), the alarm's position trail, then the recording is marked
    destroyed and a row is added to the destruction log, with a line on the alarm's
    timeline and an audit event. The alarm, its timeline and the metadata stay.

    A file deleted by a pass that then fails is simply gone when the next pass deletes
    the same recording again (deleting a missing file is not an error)."""
    now = clock.now()
    with transaction.atomic():
        ids = claim(due(now), limit=limit)
        if not ids:
            return 0
        recordings = list(Recording.objects.filter(pk__in=ids).select_related(
            "alarm__worker"))
        alarm_ids = [r.alarm_id for r in recordings]
        # What goes, counted as it goes (the metadata measured at close says the rest).
        chunks = AudioChunk.objects.filter(alarm_id__in=alarm_ids)
        files: dict[int, list[str]] = {}
        sizes: dict[int, int] = {}
        for alarm_id, name, size in chunks.values_list("alarm_id", "file", "size"):
            files.setdefault(alarm_id, []).append(name)
            sizes[alarm_id] = sizes.get(alarm_id, 0) + size
        positions = AlarmPosition.objects.filter(event__alarm_id__in=alarm_ids)
        trail: dict[int, int] = {}
        for alarm_id in positions.values_list("event__alarm_id", flat=True):
            trail[alarm_id] = trail.get(alarm_id, 0) + 1
        for names in files.values():
            for name in names:
                if name:
                    vault.delete(name)
        chunks.delete()
        positions.delete()
        Recording.objects.filter(pk__in=ids).update(destroyed_at=now)
        logs, lines, audited = [], [], []
        for recording in recordings:
            rule = Recording.Rule(recording.rule)
            recording.chunks = len(files.get(recording.alarm_id, ()))
            recording.size = sizes.get(recording.alarm_id, 0)
            recording.positions = trail.get(recording.alarm_id, 0)
            what = (f"{recording.chunks} file{'s' if recording.chunks != 1 else ''} "
                    f"({recording.size} bytes, {len(recording.takes)} "
                    f"take{'s' if len(recording.takes) != 1 else ''}) and "
                    f"{recording.positions} position{'s' if recording.positions != 1 else ''}")
            logs.append(Destruction(
                recording=recording, organisation_id=recording.organisation_id,
                alarm_id=recording.alarm_id, destroyed_at=now, rule=recording.rule,
                delete_after=recording.delete_after, files=recording.chunks,
                bytes=recording.size, takes=len(recording.takes),
                positions=recording.positions, checksum=recording.checksum,
                worker=recording.alarm.worker.full_name))
            lines.append({"alarm_id": recording.alarm_id, "at": now, "kind": "destroyed",
                          "summary": f"Recording and locations destroyed under the "
                                     f"retention rule: {rule.label.lower()} ({what})"[:300],
                          "data": {"rule": recording.rule, "files": recording.chunks,
                                   "bytes": recording.size, "positions": recording.positions,
                                   "delete_after": recording.delete_after.isoformat()}})
            audited.append({"action": "recording.destroy", "object_type": RECORDING,
                            "object_id": recording.pk,
                            "organisation_id": recording.organisation_id,
                            "summary": f"Recording of alarm #{recording.alarm_id} destroyed: "
                                       f"{rule.label.lower()}; {what}"[:300],
                            "after": {"rule": recording.rule, "files": recording.chunks,
                                      "bytes": recording.size,
                                      "positions": recording.positions,
                                      "checksum": recording.checksum}})
        Destruction.objects.bulk_create(logs)
        timeline.append_rows(lines)
        audit.record_many(audited)
    return len(ids)


# --- the security manager's review (REC-04, REC-05, ALM-05) -------------------------------

LETTER_OF = {Review.Decision.SANCTION_LETTER: Purpose.SANCTION,
             Review.Decision.NOTIFICATION_LETTER: Purpose.NOTIFICATION}


def transcript_paragraph(review: Review) -> str:
    """REC-05: what every letter to the alleged offender says, whatever its template."""
    alarm = review.alarm
    return (f"A recording was made of the incident on {_day(alarm.raised_at)}. You may ask "
            "for a written transcript of it: write to us at the address above, quoting "
            f"reference {reference(review)}, and we will send you a copy within one calendar "
            "month.")


def reference(review: Review) -> str:
    return f"LW-{review.alarm.raised_at:%Y}-{review.alarm_id}"


def do_agree_exemption(review: Review, *, actor, reason: str) -> Review:
    """REC-04: an independent senior clinician agrees a clinical exemption for this case,
    from their own account, with their reason."""
    reason = (reason or "").strip()
    if not can(actor, CHANGE, EXEMPTION, review):
        raise PermissionDenied("Only an independent senior clinician can agree a clinical "
                               "exemption, from their own account.")
    if not reason:
        raise RecordingError("Give the clinical reason for the exemption.", "reason")
    with transaction.atomic():
        review = Review.objects.select_for_update(of=("self",)).select_related("alarm__worker").get(
            pk=review.pk)
        if not review.open:
            raise RecordingConflict("This review has already been recorded.")
        if review.reason != Review.Reason.CLOSED_SAFELY:
            raise RecordingConflict("A clinical exemption is for a genuine alarm closed "
                                    "safely.")
        review.exemption_agreed_by, review.exemption_agreed_at = actor, clock.now()
        review.exemption_reason = reason[:2000]
        review.save(update_fields=["exemption_agreed_by", "exemption_agreed_at",
                                   "exemption_reason"])
        audit.record("review.exemption", actor=actor, obj=review,
                     summary=f"Clinical exemption agreed for alarm #{review.alarm_id} of "
                             f"{review.alarm.worker}", after={"reason": review.exemption_reason})
    return review


def do_decide_review(review: Review, *, actor, decision: str, note: str = "",
                     recipient_name: str = "", recipient_address: str = "",
                     incident_place: str = "") -> Review:
    """REC-04: the security manager records the review's outcome. A sanction or
    notification letter is made with it (REC-05); a clinical exemption needs the
    clinician's agreement first; for a false alarm flagged as possible duress, either it
    is confirmed (its recording then goes 24 hours from now) or the alarm is
    re-categorised as genuine (kept 12 months)."""
    note = (note or "").strip()
    if not can(actor, CHANGE, REVIEW, review):
        raise PermissionDenied("Only the security manager records a review.")
    if decision not in review.decisions:
        raise RecordingError(f"decision must be one of {', '.join(review.decisions)}",
                             "decision")
    if decision in (Review.Decision.POLICE_REFERRAL, Review.Decision.PRIVATE_PROSECUTION) \
            and not note:
        raise RecordingError("Say where the case was referred, with its reference.", "note")
    with transaction.atomic():
        review = Review.objects.select_for_update(of=("self",)).select_related(
            "alarm__worker", "alarm__session", "alarm__organisation").get(pk=review.pk)
        if not review.open:
            raise RecordingConflict("This review has already been recorded.")
        if decision == Review.Decision.CLINICAL_EXEMPTION and \
                review.exemption_agreed_at is None:
            raise RecordingConflict("A clinical exemption needs an independent senior "
                                    "clinician's agreement first, recorded from their own "
                                    "account.")
        now = clock.now()
        if decision in LETTER_OF:
            alarm = review.alarm
            letters.do_make_letter(
                organisation=alarm.organisation, purpose=LETTER_OF[decision],
                about=("review", review.pk), recipient_name=recipient_name,
                recipient_address=recipient_address, actor=actor,
                values={"incident_date": _day(alarm.raised_at),
                        "incident_time": timezone.localtime(alarm.raised_at).strftime("%H:%M"),
                        "incident_place": incident_place.strip() or _place(alarm),
                        "staff_member": alarm.worker.full_name.split()[0],
                        "reference": reference(review)},
                required=[transcript_paragraph(review)])
        review.decision, review.note = decision, note[:5000]
        review.decided_by, review.decided_at = actor, now
        review.save(update_fields=["decision", "note", "decided_by", "decided_at"])
        audit.record("review.decide", actor=actor, obj=review,
                     summary=f"Review of alarm #{review.alarm_id} recorded: "
                             f"{Review.Decision(decision).label.lower()}",
                     after={"decision": decision, "note": review.note})
        if decision == Review.Decision.RECATEGORISED:
            alarms.do_recategorise(review.alarm, actor=actor, category=Alarm.Category.GENUINE,
                                   note=note or "Re-categorised after review: closed under "
                                                "duress")
        else:
            # Kept for the review; now its rule applies (a false alarm confirmed is past
            # its 24 hours, and goes with the worker's next pass).
            refresh([review.alarm_id])
    return review


def overdue(now) -> Q:
    """REC-04: a review not recorded by its due time is overdue: the security managers are
    reminded of it, and the governance dashboard counts it."""
    return Q(decided_at__isnull=True, due_at__lte=now)


def remind_overdue_reviews(limit: int = 100) -> int:
    """REC-04: reviews not recorded by their date remind the security managers, then once
    a week while still open."""
    now = clock.now()
    with transaction.atomic():
        ids = claim(Review.objects.filter(overdue(now)).filter(
            Q(reminded_at__isnull=True) | Q(reminded_at__lte=now - timedelta(days=7)))
            .order_by("due_at"), limit=limit, update={"reminded_at": now})
        by_organisation: dict[int, list[Review]] = {}
        for review in Review.objects.filter(pk__in=ids).select_related("alarm__worker"):
            by_organisation.setdefault(review.organisation_id, []).append(review)
        for organisation_id, reviews in by_organisation.items():
            subject, body, link = messages.reviews_overdue(reviews, now)
            notify.queue(alarms.supervisors(organisation_id),
                         [Channel.IN_APP, Channel.EMAIL], subject=subject, body=body,
                         link=link, purpose="reviews_overdue", organisation_id=organisation_id,
                         about=("review", reviews[0].pk))
    return len(ids)


def _day(moment) -> str:
    return timezone.localtime(moment).strftime("%-d %B %Y")


def _place(alarm: Alarm) -> str:
    if alarm.session_id and alarm.session.address:
        return alarm.session.address
    return "the place of the visit"


# --- the police's access requests (REC-03) ------------------------------------------------

POLICE_LINK_DAYS = 7  # the longest a link may work
POLICE_LINK_USES = 5  # the most downloads a link may allow


def _text(value, name: str, label: str, most: int) -> str:
    value = (value or "").strip()
    if not value:
        raise RecordingError(f"Give the {label}.", name)
    if len(value) > most:
        raise RecordingError(f"The {label} can be at most {most} characters.", name)
    return value


def do_request_access(recording: Recording, *, actor, officer: str, force: str,
                      crime_reference: str, reason: str,
                      officer_email: str = "") -> AccessRequest:
    """Record a police request for a recording, as received (by the security manager,
    from the officer's email or letter). It waits for approval."""
    fields = {"officer": _text(officer, "officer", "officer's name, rank and number", 200),
              "force": _text(force, "force", "officer's force", 200),
              "crime_reference": _text(crime_reference, "crime_reference",
                                       "crime reference", 100),
              "reason": _text(reason, "reason", "reason the police give", 2000),
              "officer_email": (officer_email or "").strip()[:254]}
    with transaction.atomic():
        recording = Recording.objects.select_for_update().get(pk=recording.pk)
        if recording.destroyed:
            raise RecordingConflict("This recording has already been destroyed: tell the "
                                    "officer, with the date from the destruction log.")
        request = AccessRequest.objects.create(recording=recording, entered_by=actor,
                                               entered_at=clock.now(), **fields)
        audit.record("recording.access_request", actor=actor, obj=recording,
                     summary=f"Police request for the recording of alarm "
                             f"#{recording.alarm_id}: {fields['officer']}, {fields['force']}, "
                             f"crime reference {fields['crime_reference']}",
                     after={"request": request.pk, **fields})
    return request


def do_approve_access(request: AccessRequest, *, actor, days: int, uses: int,
                      note: str = "") -> tuple[AccessRequest, str]:
    """The security manager approves: a link that works for ``days`` and ``uses``
    downloads. Returns the request and the link's secret, shown once."""
    if not 1 <= days <= POLICE_LINK_DAYS:
        raise RecordingError(f"A link works for 1 to {POLICE_LINK_DAYS} days.", "days")
    if not 1 <= uses <= POLICE_LINK_USES:
        raise RecordingError(f"A link allows 1 to {POLICE_LINK_USES} downloads.", "uses")
    secret = secrets.token_urlsafe(32)
    with transaction.atomic():
        request = _decide_access(request, actor, AccessRequest.State.APPROVED, note)
        request.link_digest = hashlib.sha256(secret.encode()).hexdigest()
        request.expires_at = request.decided_at + timedelta(days=days)
        request.uses_allowed = uses
        request.save()
        audit.record("recording.access_approve", actor=actor, obj=request.recording,
                     summary=f"Police access to the recording of alarm "
                             f"#{request.recording.alarm_id} approved for {request.officer}: "
                             f"{uses} download(s) within {days} day(s)",
                     after={"request": request.pk, "expires_at": request.expires_at,
                            "uses": uses})
    return request, secret


def do_refuse_access(request: AccessRequest, *, actor, note: str) -> AccessRequest:
    note = _text(note, "note", "reason for refusing", 500)
    with transaction.atomic():
        request = _decide_access(request, actor, AccessRequest.State.REFUSED, note)
        request.save()
        audit.record("recording.access_refuse", actor=actor, obj=request.recording,
                     summary=f"Police request for the recording of alarm "
                             f"#{request.recording.alarm_id} refused: {note}"[:300])
    return request


def do_revoke_access(request: AccessRequest, *, actor) -> AccessRequest:
    with transaction.atomic():
        request = AccessRequest.objects.select_for_update(of=("self",)).select_related(
            "recording").get(pk=request.pk)
        if request.state != AccessRequest.State.APPROVED:
            raise RecordingConflict("Only an approved request's link can be withdrawn.")
        request.state = AccessRequest.State.REVOKED
        request.save(update_fields=["state"])
        audit.record("recording.access_revoke", actor=actor, obj=request.recording,
                     summary=f"Police link for alarm #{request.recording.alarm_id} withdrawn")
    return request


def _decide_access(request: AccessRequest, actor, state: str, note: str) -> AccessRequest:
    if not can(actor, CHANGE, RECORDING_KIND, request.recording):
        raise PermissionDenied("Only the security manager decides a police request.")
    request = AccessRequest.objects.select_for_update(of=("self",)).select_related(
        "recording").get(pk=request.pk)
    if request.state != AccessRequest.State.WAITING:
        raise RecordingConflict("This request has already been decided.")
    if request.recording.destroyed:
        raise RecordingConflict("This recording has already been destroyed.")
    request.state, request.decided_by, request.decided_at = state, actor, clock.now()
    request.decision_note = (note or "").strip()[:500]
    return request


class LinkRefused(Exception):
    """A police link that does not work (any more): unknown, expired, used up, withdrawn
    or its recording destroyed. One message for all, so a guess learns nothing."""


def by_link(secret: str) -> AccessRequest:
    digest = hashlib.sha256((secret or "").encode()).hexdigest()
    request = AccessRequest.objects.select_related("recording__alarm__worker").filter(
        link_digest=digest, state=AccessRequest.State.APPROVED).first()
    if request is None or request.expires_at <= clock.now() or \
            request.uses >= request.uses_allowed or request.recording.destroyed:
        raise LinkRefused("This link does not work: it may have expired, been used as "
                          "often as allowed, or been withdrawn. Ask the trust's security "
                          "manager for a new one.")
    return request


def use_link(secret: str, *, take: int, client_ip: str | None = None) -> tuple[bytes, str]:
    """One download through a police link: the take's audio, with the use counted and
    audited."""
    with transaction.atomic():
        request = by_link(secret)
        request = AccessRequest.objects.select_for_update().get(pk=request.pk)
        request = by_link(secret)  # again, under the lock
        every = takes(request.recording.alarm)
        if not 1 <= take <= len(every):
            raise RecordingError(f"There is no take {take}: the recording has "
                                 f"{len(every)}.", "take")
        parts = every[take - 1].parts
        data = b"".join(vault.read(part.file) for part in parts if part.file)
        AccessRequest.objects.filter(pk=request.pk).update(uses=F("uses") + 1)
        audit.record("recording.police_download", actor=None, obj=request.recording,
                     actor_label=f"police: {request.officer}"[:150],
                     summary=f"Recording of alarm #{request.recording.alarm_id} (take {take}) "
                             f"downloaded through the link for {request.officer}, "
                             f"{request.force}, crime reference {request.crime_reference} "
                             f"(use {request.uses + 1} of {request.uses_allowed})"[:300])
    return data, parts[0].content_type


# --- subject access requests (REC-06) -----------------------------------------------------

def do_log_subject_access(recording: Recording, *, actor, requester: str,
                          received_on) -> SubjectAccessRequest:
    """Log a subject access request for a recording: due one calendar month after it was
    received; a legal hold keeps the recording until it is closed."""
    requester = _text(requester, "requester", "name of the person asking", 200)
    if received_on is None:
        raise RecordingError("Give the date the request was received.", "received_on")
    if received_on > timezone.localdate(clock.now()):
        raise RecordingError("The date received cannot be in the future.", "received_on")
    with transaction.atomic():
        hold = do_place_hold(recording, actor=actor, reason=Hold.Reason.SUBJECT_ACCESS,
                             detail=f"Subject access request of {requester}, received "
                                    f"{received_on:%-d %B %Y}")
        sar = SubjectAccessRequest.objects.create(
            recording=recording, requester=requester, received_on=received_on,
            due_on=received_on + relativedelta(months=1), logged_by=actor,
            logged_at=clock.now(), hold=hold)
        audit.record("recording.subject_access", actor=actor, obj=recording,
                     summary=f"Subject access request of {requester} for the recording of "
                             f"alarm #{recording.alarm_id} logged, due {sar.due_on:%-d %B %Y}",
                     after={"request": sar.pk, "due_on": sar.due_on})
    return sar


def do_close_subject_access(sar: SubjectAccessRequest, *, actor, outcome: str,
                            note: str = "") -> SubjectAccessRequest:
    if outcome not in SubjectAccessRequest.Outcome.values:
        raise RecordingError(f"outcome must be one of "
                             f"{', '.join(SubjectAccessRequest.Outcome.values)}", "outcome")
    note = (note or "").strip()
    if outcome in (SubjectAccessRequest.Outcome.PARTLY, SubjectAccessRequest.Outcome.REFUSED) \
            and not note:
        raise RecordingError("Say what was withheld, and under which exemption.", "note")
    with transaction.atomic():
        sar = SubjectAccessRequest.objects.select_for_update(of=("self",)).select_related(
            "recording", "hold").get(pk=sar.pk)
        if not sar.open:
            raise RecordingConflict("This request has already been closed.")
        sar.outcome, sar.outcome_note = outcome, note[:5000]
        sar.closed_by, sar.closed_at = actor, clock.now()
        sar.save()
        if sar.hold is not None and sar.hold.in_force:
            do_release_hold(sar.hold, actor=actor,
                            note=f"Subject access request closed: "
                                 f"{SubjectAccessRequest.Outcome(outcome).label.lower()}")
        audit.record("recording.subject_access_close", actor=actor, obj=sar.recording,
                     summary=f"Subject access request of {sar.requester} closed: "
                             f"{SubjectAccessRequest.Outcome(outcome).label.lower()}",
                     after={"request": sar.pk, "outcome": outcome, "note": sar.outcome_note})
    return sar


SAR_REMINDER_DAYS = 7


def remind_subject_access(limit: int = 100) -> int:
    """REC-06: an open request reminds the security managers a week before it is due
    (once), and again on the day."""
    now = clock.now()
    today = timezone.localdate(now)
    with transaction.atomic():
        soon = Q(reminded_at__isnull=True, due_on__lte=today + timedelta(days=SAR_REMINDER_DAYS))
        due = Q(due_on__lte=today) & (Q(reminded_at__isnull=True)
                                      | Q(reminded_at__date__lt=F("due_on")))
        ids = claim(SubjectAccessRequest.objects.filter(closed_at__isnull=True)
                    .filter(soon | due).order_by("due_on"),
                    limit=limit, update={"reminded_at": now})
        for sar in SubjectAccessRequest.objects.filter(pk__in=ids).select_related(
                "recording__alarm__worker"):
            subject, body, link = messages.subject_access_due(sar, today)
            notify.queue(alarms.supervisors(sar.recording.organisation_id),
                         [Channel.IN_APP, Channel.EMAIL], subject=subject, body=body,
                         link=link, purpose="subject_access_due",
                         organisation_id=sar.recording.organisation_id,
                         about=("recording", sar.recording_id))
    return len(ids)
