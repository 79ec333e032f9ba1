"""REC-04, REC-05, ALM-05: the security manager's review queue. A genuine alarm closed
safely without the police, and a false alarm flagged as possible duress, enter it; the
review records one outcome. A sanction or notification letter is made as a PDF from the
trust's template, says that a recording exists and how to ask for a transcript, and is
kept with the case. A clinical exemption needs an independent senior clinician's
agreement, recorded from their own account. Overdue reviews remind the security
manager."""

import subprocess
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client

from lonewatch.letters import actions as letters
from lonewatch.letters.models import Letter
from lonewatch.notify.models import Delivery
from lonewatch.recordings import actions
from lonewatch.recordings.models import Review
from tests.conftest import login
from tests.recordings.conftest import later

pytestmark = pytest.mark.django_db


def test_rec_04_which_alarms_enter_the_queue(make):
    assert make("red", close="genuine_closed_safely").alarm.review.reason == "closed_safely"
    assert make("red", close="false_alarm", duress=True).alarm.review.reason == \
        "possible_duress"
    for quiet in (make("red", close="genuine"), make("red", close="false_alarm"),
                  make("red", close="genuine_closed_safely", escalate="emergency_services"),
                  make("amber"), make("red")):
        assert not Review.objects.filter(alarm=quiet.alarm).exists()


def _pdf_text(data: bytes, tmp_path) -> str:
    path = tmp_path / "letter.pdf"
    path.write_bytes(data)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True,
                          capture_output=True, text=True).stdout


def test_rec_05_a_notification_letter_says_a_recording_exists_and_how_to_ask_for_a_transcript(
        make, trust, tmp_path):
    made = make("red", close="genuine_closed_safely")
    leslie = trust.people["leslie"].user
    review = made.alarm.review
    actions.do_decide_review(review, actor=leslie, decision="notification_letter",
                             recipient_name="Mr Dan Smith",
                             recipient_address="4 Mill Lane\nWisbech\nPE13 2XX",
                             incident_place="4 Mill Lane, Wisbech")
    review.refresh_from_db()
    assert (review.decision, review.decided_by) == ("notification_letter", leslie)
    letter = Letter.objects.get(about_kind="review", about_id=review.pk)
    text = " ".join(_pdf_text(letters.read_letter(letter, actor=leslie), tmp_path).split())
    assert "Dear Mr Dan Smith" in text and "4 Mill Lane, Wisbech" in text
    assert "A recording was made of the incident" in text
    assert "ask for a written transcript" in text and actions.reference(review) in text
    assert "Nina" in text and "Kowalski" not in text  # the staff member's first name only
    # The file in the store is not the PDF: it is encrypted like the recordings.
    stored = (tmp_path / "recordings" / letter.file).read_bytes()
    assert not stored.startswith(b"%PDF")


def test_rec_05_the_security_managers_template_is_used_but_the_transcript_paragraph_stays(
        make, trust, tmp_path):
    leslie = trust.people["leslie"].user
    letters.do_save_template(trust.org, "sanction", actor=leslie, title="Final warning",
                             sender="Test Trust\nSecurity Office\n1 Hospital Road",
                             body="Dear $recipient,\n\nDo not do that again ($reference).",
                             signature="L. Morgan, LSMS")
    made = make("red", close="genuine_closed_safely")
    actions.do_decide_review(made.alarm.review, actor=leslie, decision="sanction_letter",
                             recipient_name="Ms Eve Jones", recipient_address="9 High St")
    letter = Letter.objects.get()
    text = " ".join(_pdf_text(letters.read_letter(letter, actor=leslie), tmp_path).split())
    assert "Final warning" in text and "Do not do that again" in text
    assert "1 Hospital Road" in text and "L. Morgan, LSMS" in text
    assert "A recording was made of the incident" in text


def test_rec_04_bad_review_input_is_refused_and_changes_nothing(make, trust, client):
    made = make("red", close="genuine_closed_safely")
    review = made.alarm.review
    leslie = trust.people["leslie"].user
    cases = [
        ({"decision": "nothing"}, actions.RecordingError, "decision must be one of"),
        ({"decision": "notification_letter"}, letters.LetterError, "name of the person"),
        ({"decision": "notification_letter", "recipient_name": "Dan"}, letters.LetterError,
         "address"),
        ({"decision": "police_referral"}, actions.RecordingError, "referred"),
        ({"decision": "clinical_exemption"}, actions.RecordingConflict, "clinician"),
        ({"decision": "confirmed_false_alarm"}, actions.RecordingError, "decision must be"),
    ]
    for fields, error, words in cases:
        with pytest.raises(error, match=words):
            actions.do_decide_review(review, actor=leslie, **fields)
        review.refresh_from_db()
        assert review.open and not Letter.objects.exists(), fields
    # Nobody but the security manager records a review.
    with pytest.raises(PermissionDenied, match="security manager"):
        actions.do_decide_review(review, actor=trust.people["olivia"].user,
                                 decision="police_referral", note="PC 12")


def test_rec_04_a_clinical_exemption_is_agreed_by_an_independent_clinician_only(
        make, trust):
    made = make("red", close="genuine_closed_safely")
    review = made.alarm.review
    leslie, jo = trust.people["leslie"].user, trust.people["jo"].user
    for someone in (leslie, trust.people["maria"].user, trust.people["olivia"].user):
        with pytest.raises(PermissionDenied, match="independent senior clinician"):
            actions.do_agree_exemption(review, actor=someone, reason="Dementia")
    with pytest.raises(actions.RecordingError, match="clinical reason"):
        actions.do_agree_exemption(review, actor=jo, reason="  ")
    review.refresh_from_db()
    assert review.exemption_agreed_at is None
    actions.do_agree_exemption(review, actor=jo, reason="Advanced dementia: the patient "
                                                         "did not understand what they did")
    actions.do_decide_review(review, actor=leslie, decision="clinical_exemption",
                             note="Agreed with the clinician")
    review.refresh_from_db()
    assert (review.decision, review.exemption_agreed_by) == ("clinical_exemption", jo)


def test_alm_05_a_possible_duress_review_decides_the_recordings_fate(make, trust, at,
                                                                       time_machine):
    at()
    leslie = trust.people["leslie"].user
    kept = make("red", close="false_alarm", duress=True)
    gone = make("red", close="false_alarm", duress=True)
    later(time_machine, timedelta(days=3))
    actions.do_decide_review(kept.alarm.review, actor=leslie,
                             decision="recategorised_genuine", note="She was not alone")
    actions.do_decide_review(gone.alarm.review, actor=leslie,
                             decision="confirmed_false_alarm", note="Spoke to her: a slip")
    kept.alarm.refresh_from_db()
    assert kept.alarm.category == "genuine" and kept.recording.rule == "genuine"
    assert gone.recording.rule == "false_alarm"
    assert actions.destroy_due() == 1
    assert gone.recording.destroyed_at is not None and kept.recording.destroyed_at is None


def test_rec_04_overdue_reviews_remind_the_security_manager_and_are_highlighted(
        make, trust, at, time_machine, settings):
    at()
    made = make("red", close="genuine_closed_safely")
    assert actions.remind_overdue_reviews() == 0
    later(time_machine, timedelta(days=settings.REVIEW_DAYS, minutes=1))
    assert actions.remind_overdue_reviews() == 1
    told = Delivery.objects.filter(purpose="reviews_overdue")
    assert {d.recipient.full_name for d in told} == {"Leslie"}
    assert actions.remind_overdue_reviews() == 0  # once, then weekly
    later(time_machine, timedelta(days=7))
    assert actions.remind_overdue_reviews() == 1
    page = login(Client(), trust.people["leslie"], verified=True).get("/recordings/reviews/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "1 review overdue" in body and "Overdue by 7 days" in body
    assert made.alarm.worker.full_name in body
