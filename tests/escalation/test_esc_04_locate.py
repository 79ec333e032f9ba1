"""ESC-04: when police involvement is needed, a one-page "locate this worker" summary:
last known location, planned visit, vehicle, description, contacts, timeline."""

import re
import shutil
import subprocess
from datetime import datetime, timedelta

import pytest
from django.urls import reverse

from lonewatch.core import pdf
from lonewatch.core.models import AuditEvent
from lonewatch.escalation import actions as engine
from lonewatch.org.actions import do_add_next_of_kin
from lonewatch.visits.actions import do_check_in
from lonewatch.visits.models import SessionPosition

T0 = "2026-11-23 09:00:00+00:00"  # November: London time is UTC

needs_poppler = pytest.mark.skipif(
    not (shutil.which("pdfinfo") and shutil.which("pdftotext")),
    reason="pdfinfo and pdftotext (poppler-utils) are needed to read the PDF",
)


@pytest.fixture
def at(time_machine, settings):
    settings.TIME_ZONE = "Europe/London"
    time_machine.move_to(T0, tick=False)

    def _at(**delta):
        time_machine.move_to(datetime.fromisoformat(T0) + timedelta(**delta), tick=False)

    return _at


@pytest.fixture
def contacts(trust):
    """Distinct numbers, so the page is seen to show the right person's."""
    for name, mobile in (("nina", "+447700900111"), ("ben", "+447700900222"),
                         ("maria", "+447700900333")):
        person = trust.people[name]
        person.mobile = mobile
        person.save(update_fields=["mobile"])
    nina = trust.people["nina"]
    nina.job_title = "Community nurse"
    nina.save(update_fields=["job_title"])
    return trust


def positions(session) -> int:
    return SessionPosition.objects.filter(event__session=session).count()


def url(session, pdf=False):
    return reverse("locate_summary", args=[session.pk]) + ("?format=pdf" if pdf else "")


def page(client, session) -> str:
    response = client.get(url(session))
    assert response.status_code == 200
    return response.content.decode()


def kin_reads(actor) -> int:
    return AuditEvent.objects.filter(action="person.next_of_kin.read", actor=actor.user).count()


def read_pdf(content: bytes, tmp_path) -> tuple[str, str]:
    """(pdfinfo output, pdftotext output) of a PDF."""
    path = tmp_path / "locate.pdf"
    path.write_bytes(content)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                          text=True, check=True)
    return info.stdout, text.stdout


def pages(info: str) -> int:
    return int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))


def test_esc_04_locate_summary_shows_last_location_visit_and_contacts(
        at, contacts, start_session, as_person, trust):
    session = start_session(interval=600, vehicle="Blue Ford Fiesta, AB12 CDE",
                            service_user_ref="SU-4471")
    at(minutes=5)
    do_check_in(session, actor=trust.people["nina"].user, lat=52.66, lon=0.16, accuracy_m=12)
    at(minutes=12)
    html = page(as_person(trust.people["ben"]), session)
    assert "Locate this worker" in html
    assert "Nina" in html and "Community nurse" in html and "North" in html
    assert "+447700900111" in html  # her mobile
    assert "52.66000, 0.16000 (± 12 m) at 23 Nov 2026 09:05" in html
    assert "openstreetmap.org/?mlat=52.66000&amp;mlon=0.16000" in html
    assert "Last contact" in html and "23 Nov 2026 09:05" in html
    assert "12 Acacia Avenue, Wisbech" in html and "PE13 1AB" in html
    assert "SU-4471" in html and "Home visit" in html and "Car" in html
    assert "23 Nov 2026 09:00 to 23 Nov 2026 11:00" in html
    assert "Blue Ford Fiesta, AB12 CDE" in html
    assert "Ben, <a href=\"tel:+447700900222\">" in html  # the buddy and his mobile
    assert "Maria, <a href=\"tel:+447700900333\">" in html  # the line manager and hers
    assert "No escalation is open" in html
    # The timeline, oldest first.
    started, checked_in = html.index("Home visit started at"), html.index("Checked in")
    assert started < checked_in
    assert f'href="{url(session, pdf=True)}"' in html and "Download PDF" in html
    assert 'class="nhsuk-button"' in html


def test_esc_04_no_location_says_why_and_vehicle_falls_back_to_the_worker(
        at, start_session, as_person, trust):
    session = start_session(interval=600)
    session.vehicle = ""
    session.save(update_fields=["vehicle"])
    nina = trust.people["nina"]
    nina.vehicle_description = "Red Vauxhall Corsa"
    nina.save(update_fields=["vehicle_description"])
    html = page(as_person(trust.people["maria"]), session)
    assert "No location recorded (location is only kept when the worker has consented)" in html
    assert "Red Vauxhall Corsa" in html


def test_esc_04_times_are_shown_in_local_time(time_machine, settings, start_session, as_person,
                                              trust):
    settings.TIME_ZONE = "Europe/London"
    time_machine.move_to("2026-06-15 09:00:00+00:00", tick=False)  # British Summer Time
    session = start_session(interval=600)
    html = page(as_person(trust.people["maria"]), session)
    assert "15 Jun 2026 10:00 to 15 Jun 2026 12:00" in html


@needs_poppler
def test_esc_04_pdf_is_one_a4_page_with_the_worker_and_address(
        at, contacts, start_session, as_person, trust, tmp_path):
    session = start_session(interval=600, vehicle="Blue Ford Fiesta, AB12 CDE")
    at(minutes=5)
    do_check_in(session, actor=trust.people["nina"].user, lat=52.66, lon=0.16, accuracy_m=12)
    response = as_person(trust.people["maria"]).get(url(session, pdf=True))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'inline; filename="locate-nina-{session.pk}.pdf"'
    assert response.content.startswith(b"%PDF")
    info, text = read_pdf(response.content, tmp_path)
    assert pages(info) == 1
    assert "(A4)" in info
    assert "Locate this worker" in text
    assert "Nina" in text and "12 Acacia Avenue, Wisbech" in text
    assert "52.66000, 0.16000" in text and "Blue Ford Fiesta" in text
    assert "Maria" in text and "+447700900333" in text


@needs_poppler
def test_esc_04_long_timeline_keeps_one_page_and_says_what_was_left_out(
        at, start_session, as_person, trust, tmp_path):
    session = start_session(interval=600)
    for minute in range(1, 61):
        at(minutes=minute)
        do_check_in(session, actor=trust.people["nina"].user, lat=52.66, lon=0.16,
                    accuracy_m=12, note=f"check-in number {minute} " + "x" * 60)
    client = as_person(trust.people["maria"])
    html = page(client, session)
    assert "36 earlier events not shown" in html  # 61 events, the newest 25 shown
    assert "check-in number 60" in html and "check-in number 36 " in html
    assert "check-in number 35 " not in html
    info, text = read_pdf(client.get(url(session, pdf=True)).content, tmp_path)
    assert pages(info) == 1
    assert re.search(r"\d+ earlier events not shown", text)
    assert "check-in number 60" in text


def test_esc_04_pdf_loads_nothing_over_the_network(at, start_session, as_person, trust,
                                                   monkeypatch):
    rendered = []
    real = pdf.render_to_string

    def spy(*args, **kwargs):
        rendered.append(real(*args, **kwargs))
        return rendered[-1]

    monkeypatch.setattr(pdf, "render_to_string", spy)
    session = start_session(interval=600)
    do_check_in(session, actor=trust.people["nina"].user, lat=52.66, lon=0.16, accuracy_m=12)
    response = as_person(trust.people["maria"]).get(url(session, pdf=True))
    assert response.status_code == 200
    assert rendered
    for html in rendered:
        for loader in ("<link", "<script", "<img", "src=", "url(", "@import", "@font-face",
                       "http:", "https:", "//"):
            assert loader not in html, loader


def test_esc_04_next_of_kin_shown_to_the_buddy_while_running_and_each_read_audited(
        at, start_session, as_person, trust):
    nina, ben = trust.people["nina"], trust.people["ben"]
    do_add_next_of_kin(nina, actor=nina.user, name="Norman Price", relationship="Husband",
                       phone="+447700900999")
    session = start_session(interval=600)
    client = as_person(ben)
    html = page(client, session)
    assert "Norman Price (Husband)" in html and "+447700900999" in html
    event = AuditEvent.objects.get(action="person.next_of_kin.read")
    assert event.actor == ben.user and event.object_id == str(nina.pk)
    client.get(url(session, pdf=True))
    assert kin_reads(ben) == 2  # the PDF is a read too


def test_esc_04_next_of_kin_only_for_escalation_points_while_escalating(
        at, start_session, as_person, trust):
    nina, maria = trust.people["nina"], trust.people["maria"]
    do_add_next_of_kin(nina, actor=nina.user, name="Norman Price", relationship="Husband",
                       phone="+447700900999")
    session = start_session(interval=600)
    client = as_person(maria)
    html = page(client, session)
    assert "Next of kin: ask the line manager" in html
    assert "Norman Price" not in html
    assert kin_reads(maria) == 0  # nothing shown, nothing read
    at(minutes=10)
    engine.start_due()
    html = page(client, session)
    assert "Norman Price (Husband)" in html
    assert kin_reads(maria) == 1


def test_esc_04_open_escalation_shows_when_missed_state_and_who_acknowledged(
        at, start_session, as_person, trust):
    session = start_session(interval=600)
    at(minutes=10)
    engine.start_due()
    at(minutes=16)
    engine.do_acknowledge(session.escalations.get(), actor=trust.people["ben"].user)
    html = page(as_person(trust.people["maria"]), session)
    assert "Check-in missed at" in html and "23 Nov 2026 09:10" in html
    assert "Acknowledged" in html and "Ben at 23 Nov 2026 09:16" in html
    assert "Ben is handling this" in html  # and it is on the timeline


def test_esc_04_outside_scope_gets_404(at, start_session, as_person, trust):
    session = start_session(interval=600)
    client = as_person(trust.people["otto"])
    assert client.get(url(session)).status_code == 404
    assert client.get(url(session, pdf=True)).status_code == 404
    assert client.get(reverse("locate_summary", args=[session.pk + 999])).status_code == 404


def test_esc_04_buddy_loses_the_summary_when_the_session_ends(at, start_session, as_person,
                                                               trust):
    from lonewatch.visits.actions import do_end_session

    session = start_session(interval=600)
    do_check_in(session, actor=trust.people["nina"].user, lat=52.66, lon=0.16, accuracy_m=12)
    at(minutes=30)
    do_end_session(session, actor=trust.people["nina"].user, pin="2468")
    assert as_person(trust.people["ben"]).get(url(session)).status_code == 404
    # The line manager still can, and the location is gone (MOV-05).
    html = page(as_person(trust.people["maria"]), session)
    assert "52.66000" not in html
    assert "This session has ended, and any location was deleted when it ended." in html
    assert "Ended; ended 23 Nov 2026 09:30" in html


def test_esc_04_anonymous_is_sent_to_log_in(at, start_session, client):
    session = start_session(interval=600)
    for target in (url(session), url(session, pdf=True)):
        response = client.get(target)
        assert response.status_code == 302
        assert response["Location"].startswith("/login?next=")


@pytest.mark.parametrize("outcome", ["police_involved", "worker_hurt"])
def test_esc_04_police_involved_keeps_the_location_for_the_locate_summary_then_purges_it(
        at, start_session, as_person, trust, settings, outcome):
    """Resolving as "police involved" or "worker hurt" ends the session but keeps the last
    location and positions for the locate summary (LONEWATCH_LOCATE_KEEP_DAYS, default 7),
    then deletes them and says so on the timeline and in the audit trail."""
    from lonewatch.visits.actions import purge_kept_locations

    nina, maria = trust.people["nina"], trust.people["maria"]
    session = start_session(interval=600, lat=52.6641, lon=0.1596, accuracy_m=12)
    at(minutes=5)
    do_check_in(session, actor=nina.user, lat=52.6650, lon=0.1601, accuracy_m=9)
    at(minutes=20)
    engine.start_due()
    engine.do_resolve(session.escalations.get(), outcome=outcome, note="999 called",
                      actor=maria.user)
    session.refresh_from_db()
    assert session.state == "ended" and session.last_lat == 52.6650
    assert positions(session) == 2
    html = page(as_person(maria), session)
    assert "52.665" in html
    at(days=6)
    assert purge_kept_locations() == 0
    at(days=7, minutes=21)
    assert purge_kept_locations() == 1
    session.refresh_from_db()
    assert session.last_lat is None and positions(session) == 0
    assert "52.665" not in page(as_person(maria), session)
    assert session.events.filter(summary__contains="police").exists()
    assert AuditEvent.objects.filter(action="session.location.purge",
                                     object_id=str(session.pk)).exists()


def test_esc_04_other_outcomes_forget_the_location_at_once(at, start_session, trust):
    maria = trust.people["maria"]
    session = start_session(interval=600, lat=52.6641, lon=0.1596, accuracy_m=12)
    at(minutes=20)
    engine.start_due()
    engine.do_resolve(session.escalations.get(), outcome="forgot_to_check_out",
                      actor=maria.user)
    session.refresh_from_db()
    assert session.last_lat is None and positions(session) == 0
    assert session.keep_location_until is None
