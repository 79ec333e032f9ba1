"""MOV-04: the duress PIN at cancel and at check-out answers like the real one and
raises a silent alarm; the two PINs are digits and differ."""


import pytest

from lonewatch import clock
from lonewatch.alarms import actions
from lonewatch.alarms.models import Alarm
from lonewatch.visits import actions as visits
from tests.conftest import post


def test_mov_04_cancel_with_duress_pin_answers_like_the_real_pin(client, trust, desk):
    real = post(client, "/api/v1/alarms", desk["nina"]).json()["id"]
    forced = post(client, "/api/v1/alarms", desk["nina"]).json()["id"]
    a = post(client, f"/api/v1/alarms/{real}/cancel", desk["nina"], {"pin": "2468"})
    b = post(client, f"/api/v1/alarms/{forced}/cancel", desk["nina"], {"pin": "9753"})
    assert a.status_code == b.status_code == 200
    assert a.json().keys() == b.json().keys() and a.json()["cancelled"] is b.json()["cancelled"]
    assert Alarm.objects.get(pk=real).state == "closed"
    forced_alarm = Alarm.objects.get(pk=forced)
    assert forced_alarm.state == "raised" and forced_alarm.source == "duress"
    assert forced_alarm.next_realert_at is not None  # the alarm centre keeps being told
    wrong = post(client, f"/api/v1/alarms/{real}/cancel", desk["nina"], {"pin": "0000"})
    assert wrong.status_code == 409  # already closed


def test_mov_04_check_out_with_duress_pin_looks_normal_and_raises_a_silent_alarm(
        trust, desk, start_session):
    session = start_session(interval=900)
    visits.do_end_session(session, actor=trust.people["nina"].user, pin="9753")
    session.refresh_from_db()
    assert session.state == "ended"
    alarm = Alarm.objects.get()
    assert (alarm.kind, alarm.state, alarm.source) == ("red", "raised", "duress")
    assert alarm.next_realert_at <= clock.now()
    assert actions.realert_due() == 1


def test_mov_04_worker_sets_a_duress_pin_that_differs_from_the_pin(trust, nina_ready,
                                                                  as_person):
    client = as_person(nina_ready)
    same = client.post("/profile/duress-pin", {"pin": "2468"}, follow=True)
    assert "must be different" in same.content.decode()
    nina_ready.refresh_from_db()
    assert not nina_ready.duress_pin_hash
    client.post("/profile/duress-pin", {"pin": "9753"})
    nina_ready.refresh_from_db()
    assert nina_ready.duress_pin_hash
    again = client.post("/profile/pin", {"pin": "9753"}, follow=True)
    assert "must be different" in again.content.decode()


def test_mov_04_cancel_on_the_page_reads_the_same_for_both_pins(trust, desk, as_person):
    client = as_person(trust.people["nina"])
    pages = []
    for pin in ("2468", "9753"):
        client.post("/my-day/alert/red")
        alarm = Alarm.objects.order_by("-pk").first()
        page = client.post(f"/my-day/alarms/{alarm.pk}/cancel", {"pin": pin}, follow=True)
        pages.append(page.content.decode().count("Alarm cancelled."))
    assert pages == [1, 1]
    real, forced = Alarm.objects.order_by("pk")
    assert (real.state, forced.state, forced.source) == ("closed", "raised", "duress")
    amber = client.post("/my-day/alert/amber", {"message": "Going in"}, follow=True)
    assert "Amber alert logged" in amber.content.decode()


def test_mov_04_the_two_pins_are_digits_and_differ(trust):
    from django.contrib.auth.hashers import check_password

    from lonewatch.visits.actions import SessionError, do_set_duress_pin, do_set_pin

    nina = trust.people["nina"]
    do_set_pin(nina, pin="2468", actor=nina.user)
    with pytest.raises(SessionError, match="Your duress PIN must be 4 to 8 digits."):
        do_set_duress_pin(nina, pin="12a4", actor=nina.user)
    with pytest.raises(SessionError, match="must be different from your check-out PIN"):
        do_set_duress_pin(nina, pin="2468", actor=nina.user)
    do_set_duress_pin(nina, pin="9753", actor=nina.user)
    with pytest.raises(SessionError, match="must be different from your duress PIN"):
        do_set_pin(nina, pin="9753", actor=nina.user)
    nina.refresh_from_db()
    assert check_password("2468", nina.pin_hash) and check_password("9753", nina.duress_pin_hash)
