"""What happens to recordings: their retention date kept true, legal holds, the security
manager's review queue, and destruction when the date comes (REC-01 … REC-04).

Every change here runs inside a transaction, writes its audit event, and is the one
implementation that pages, the API, the commands and the worker call.
"""

import hashlib
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
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
from lonewatch.recordings.models import Destruction, Hold, Recording, Review
from lonewatch.recordings.permissions import EXEMPTION, REVIEW
from lonewatch.worker.claim import claim

RECORDING = "recordings.recording"
DESTROY_BATCH = 500


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
        hold = Hold.objects.select_for_update().select_related("recording").get(pk=hold.pk)
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

def due(now=None):
    """The recordings whose date has come and that no hold keeps."""
    now = now or clock.now()
    held = Hold.objects.filter(recording=OuterRef("pk"), released_at__isnull=True)
    return (Recording.objects.filter(destroyed_at__isnull=True, delete_after__lte=now)
            .exclude(Exists(held)).order_by("delete_after"))


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
        review = Review.objects.select_for_update().select_related("alarm__worker").get(
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
        review = Review.objects.select_for_update().select_related(
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


def remind_overdue_reviews(limit: int = 100) -> int:
    """REC-04: reviews not recorded by their date remind the security managers, then once
    a week while still open."""
    now = clock.now()
    with transaction.atomic():
        ids = claim(Review.objects.filter(decided_at__isnull=True, due_at__lte=now).filter(
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
