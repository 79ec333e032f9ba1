"""REC-04: the demo trust has a review queue with a case in every state, each with a
recording that plays, and a line in the destruction log; loading it twice adds
nothing."""

import pytest
from django.core.management import call_command
from django.test import Client

from lonewatch import clock
from lonewatch.core import vault
from lonewatch.letters.models import Letter
from lonewatch.recordings.models import Destruction, Review
from tests.conftest import login

pytestmark = pytest.mark.django_db


def test_rec_04_the_demo_review_queue_has_a_case_in_every_state(capsys):
    call_command("demo")
    reviews = Review.objects.select_related("alarm")
    waiting = reviews.filter(decided_at__isnull=True)
    assert {r.reason for r in reviews} == {"closed_safely", "possible_duress"}
    assert any(r.exemption_agreed_at for r in waiting)
    assert any(r.due_at < clock.now() for r in waiting)  # overdue
    assert any(r.due_at > clock.now() and not r.exemption_agreed_at
               and r.reason == "closed_safely" for r in waiting)  # waiting, in time
    assert {r.decision for r in reviews if not r.open} == {"notification_letter",
                                                          "police_referral"}
    assert Letter.objects.filter(about_kind="review").count() == 1
    assert Destruction.objects.count() == 1
    for review in reviews:
        chunk = review.alarm.audio_chunks.get()
        assert vault.read(chunk.file).startswith(b"RIFF")
    assert "review queue has 7 demo alarm cases" in capsys.readouterr().out

    call_command("demo")
    assert Review.objects.count() == 6 and Destruction.objects.count() == 1


def test_rec_04_the_demo_queue_page_shows_every_state(client):
    from lonewatch.org.models import Person

    call_command("demo")
    leslie = Person.objects.get(user__username="leslie.lsms")
    page = login(Client(), leslie, verified=True).get("/recordings/reviews/").content.decode()
    assert "1 review overdue" in page
    assert "Clinical exemption agreed by a clinician" in page
    assert "False alarm flagged as possible duress" in page
    assert "Notification letter" in page and "Referral to the police" in page
