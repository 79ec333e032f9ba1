"""REC-04, REC-05 in a real browser: the security manager opens the review queue, opens a
genuine alarm that was closed safely, plays its recording, chooses a notification
letter and downloads the PDF."""

import re
import subprocess

import pytest
from django.test import Client
from playwright.sync_api import expect

from lonewatch.alarms import actions as alarms
from lonewatch.alarms.models import Alarm
from lonewatch.core.models import AuditEvent
from lonewatch.recordings.demo import tone
from lonewatch.recordings.models import Review
from tests.browser import screenshot, sign_in_with_code
from tests.conftest import bearer, post

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_rec_04_05_the_security_manager_reviews_plays_and_sends_a_notification_letter(
        trust, desk, live_server, browser, settings, tmp_path):
    settings.REQUIRE_TWO_FACTOR = True
    olivia, leslie = trust.people["olivia"], trust.people["leslie"]
    client = Client()
    raised = post(client, "/api/v1/alarms", desk["nina"], {"lat": 52.6641, "lon": 0.1596})
    alarm = Alarm.objects.get(pk=raised.json()["id"])
    assert client.post(f"/api/v1/alarms/{alarm.pk}/audio?seq=0", tone(3, 440),
                       content_type="audio/wav", headers=desk["nina"]).status_code == 201
    alarm.cancel_until = None
    alarm.save(update_fields=["cancel_until"])
    alarms.do_acknowledge(alarm, actor=olivia.user)
    alarms.do_close(alarm, actor=olivia.user, category="genuine_closed_safely",
                    note="The visitor calmed down and left")
    assert Review.objects.get(alarm=alarm).open
    assert Client(headers=bearer(olivia)).get(
        f"/api/v1/alarms/{alarm.pk}/recording").status_code == 403  # closed: not hers now

    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB",
                                  accept_downloads=True)
    page = context.new_page()
    try:
        sign_in_with_code(page, live_server, leslie)
        page.get_by_role("link", name="Reviews").first.click()
        expect(page.get_by_role("heading", name="Alarm reviews")).to_be_visible()
        reason = page.get_by_role("cell", name=re.compile("Genuine alarm closed safely"))
        expect(reason).to_be_visible()
        screenshot(page, "rec-04-review-queue")
        page.get_by_role("link", name=re.compile("Nina")).first.click()
        expect(page.get_by_role("heading", name="Alarm of Nina")).to_be_visible()

        # The recording plays.
        played = AuditEvent.objects.filter(action="alarm.recording.read").count()
        page.evaluate("document.querySelector('audio.lw-recording').play()")
        page.wait_for_function("document.querySelector('audio.lw-recording').currentTime > 0.5",
                               timeout=15000)
        assert AuditEvent.objects.filter(action="alarm.recording.read").count() > played

        # A notification letter, and its PDF.
        page.get_by_label("Notification letter").check()
        page.get_by_label("Name of the person the letter is to").fill("Mr Dan Smith")
        page.get_by_label("Their address").fill("4 Mill Lane\nWisbech\nPE13 2XX")
        page.get_by_role("button", name="Record the review").click()
        expect(page.get_by_text("The review is recorded.")).to_be_visible()
        expect(page.get_by_text("Notification letter", exact=False).first).to_be_visible()
        screenshot(page, "rec-04-case-page")
        with page.expect_download() as downloading:
            page.get_by_role("link", name=re.compile("Notification letter to Mr Dan Smith")).click()
        path = tmp_path / "letter.pdf"
        downloading.value.save_as(path)
        assert path.read_bytes().startswith(b"%PDF")
        text = " ".join(subprocess.run(["pdftotext", str(path), "-"], check=True,
                                       capture_output=True, text=True).stdout.split())
        assert "Dear Mr Dan Smith" in text and "A recording was made of the incident" in text
        assert AuditEvent.objects.filter(action="letter.read").exists()
        review = Review.objects.get(alarm=alarm)
        assert (review.decision, review.decided_by) == ("notification_letter", leslie.user)
    finally:
        context.close()
