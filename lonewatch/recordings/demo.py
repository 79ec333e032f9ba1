"""The demo trust's alarm reviews: a queue with a case in every state (REC-04), each with
a short recording, and one recording destroyed on time for the destruction log. Made
through the same actions as real cases, then dated back; safe to load twice."""

import io
import math
import struct
import wave
from datetime import timedelta

from django.db import transaction

from lonewatch.alarms import actions as alarms
from lonewatch.alarms import audio
from lonewatch.alarms.models import Alarm, OperatorDuty
from lonewatch.org.models import Organisation, Person
from lonewatch.recordings import actions
from lonewatch.recordings.models import Recording, Review

MARK = "Demo case: "


def tone(seconds: float, pitch: int) -> bytes:
    """A short recording a browser plays: a WAV tone (the demo has no real audio)."""
    rate = 8000
    out = io.BytesIO()
    with wave.open(out, "wb") as sound:
        sound.setnchannels(1)
        sound.setsampwidth(2)
        sound.setframerate(rate)
        sound.writeframes(b"".join(
            struct.pack("<h", int(6000 * math.sin(2 * math.pi * pitch * i / rate)))
            for i in range(int(seconds * rate))))
    return out.getvalue()


# (worker, days ago, how it was closed, what the review has come to)
CASES = [
    ("nina.nurse", 3, "genuine_closed_safely", "waiting",
     "Visitor shouting and blocking the door; left when asked"),
    ("ben.buddy", 19, "genuine_closed_safely", "overdue",
     "Patient's son threatened to hit the nurse; calmed down"),
    ("ruth.clark", 8, "genuine_closed_safely", "exemption_agreed",
     "Patient with dementia lashed out during a dressing change"),
    ("nina.nurse", 2, "false_alarm", "possible_duress",
     "Worker said it was pressed by mistake; the operator heard a second voice"),
    ("ben.buddy", 30, "genuine_closed_safely", "notification_letter",
     "Neighbour followed the nurse to her car and swore at her"),
    ("ruth.clark", 45, "genuine_closed_safely", "police_referral",
     "Man at the address made threats with a knife in his hand"),
]


def load() -> int:
    """Load the demo cases if they are not there yet. Returns how many were made."""
    organisation = Organisation.objects.filter(name="Fenland Community Health NHS Trust").first()
    if organisation is None or Alarm.objects.filter(message__startswith=MARK).exists():
        return 0
    people = {p.username: p for p in Person.objects.filter(organisation=organisation)
              .select_related("user")}
    olivia, leslie, jo = (people["olivia.operator"], people["leslie.lsms"],
                          people["jo.clinician"])
    made = 0
    with transaction.atomic():
        on_duty = OperatorDuty.objects.filter(person=olivia, ended_at__isnull=True).exists()
        if not on_duty:
            alarms.do_duty(olivia, on=True, actor=olivia.user)
        for number, (username, days, category, state, what) in enumerate(CASES):
            alarm = _case(people[username], olivia, category, what, pitch=330 + 55 * number,
                          duress=state == "possible_duress")
            review = alarm.review
            if state == "exemption_agreed":
                actions.do_agree_exemption(review, actor=jo.user, reason=(
                    "The patient has advanced dementia and did not understand what they did: "
                    "a letter would cause distress and change nothing."))
            elif state == "notification_letter":
                actions.do_decide_review(review, actor=leslie.user,
                                         decision="notification_letter",
                                         recipient_name="Mr Gary Pratt",
                                         recipient_address="7 Elm Close\nMarch\nPE15 8QT")
            elif state == "police_referral":
                actions.do_decide_review(review, actor=leslie.user,
                                         decision="police_referral",
                                         note="Referred to Cambridgeshire Constabulary, "
                                              "crime reference CC/2026/40123")
            _dated_back(alarm, timedelta(days=days))
            made += 1
        # A false alarm of last week, destroyed on time: the destruction log's first line.
        gone = _case(people["ruth.clark"], olivia, "false_alarm",
                     "Phone pressed in a bag", pitch=600, duress=False)
        _dated_back(gone, timedelta(days=7))
        actions.destroy_due()
        if not on_duty:
            alarms.do_duty(olivia, on=False, actor=olivia.user)
    return made + 1


def _case(worker: Person, olivia: Person, category: str, what: str, *, pitch: int,
          duress: bool) -> Alarm:
    alarm = alarms.do_raise(worker, actor=worker.user, kind="red", message=MARK + what,
                            lat=52.6641, lon=0.1596, accuracy_m=25)
    audio.add_chunk(alarm, actor=worker.user, seq=0, content_type="audio/wav",
                    data=tone(4, pitch))
    Alarm.objects.filter(pk=alarm.pk).update(cancel_until=None)
    alarm.refresh_from_db()
    alarms.do_acknowledge(alarm, actor=olivia.user)
    if duress:
        alarms.do_flag_duress(alarm, actor=olivia.user, note=what)
    alarms.do_close(alarm, actor=olivia.user, category=category,
                    worker_agreed=True if category == "false_alarm" else None, note=what)
    alarm.refresh_from_db()
    return alarm


def _dated_back(alarm: Alarm, ago: timedelta) -> None:
    """Move the case back in time, as if it had happened ``ago``: the alarm, its review
    and its recording's date (its timeline and audit trail keep their true times)."""
    Alarm.objects.filter(pk=alarm.pk).update(raised_at=alarm.raised_at - ago,
                                             acknowledged_at=alarm.acknowledged_at - ago,
                                             closed_at=alarm.closed_at - ago)
    review = Review.objects.filter(alarm=alarm).first()
    if review is not None:
        Review.objects.filter(pk=review.pk).update(
            opened_at=review.opened_at - ago, due_at=review.due_at - ago,
            decided_at=review.decided_at - ago if review.decided_at else None)
    recording = Recording.objects.get(alarm=alarm)
    if recording.delete_after is not None:
        Recording.objects.filter(pk=recording.pk).update(
            delete_after=recording.delete_after - ago)
