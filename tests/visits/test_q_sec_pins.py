"""MOV-04 and Q-SEC: one PIN check for check-out and alarm cancel.

The duress PIN must not be told from the real one by what comes back (status, body,
headers) nor by how long it takes (both hashes are always checked), and wrong PINs at
check-out and at cancel share one lockout that never cancels a live alarm.
"""

from unittest import mock

import pytest
from django.contrib.auth.hashers import MD5PasswordHasher, make_password

from lonewatch import clock
from lonewatch.accounts.actions import do_create_token
from lonewatch.alarms.models import Alarm
from lonewatch.org.models import PinFailure
from lonewatch.visits.models import Session

PIN, DURESS, WRONG = "2468", "9753", "0000"
LOCKED = ("Too many wrong PINs. Wait 15 minutes, then try again. Keep checking in meanwhile. "
          "If you are in danger, call 999.")


@pytest.fixture
def nina(nina_ready):
    nina_ready.duress_pin_hash = make_password(DURESS)
    nina_ready.save()
    return nina_ready


@pytest.fixture
def phone(client, nina):
    """Nina's phone talking to the API with her own token."""
    _token, raw = do_create_token(nina.user, name="phone", actor=nina.user)
    headers = {"Authorization": f"Bearer {raw}"}

    def post(url, body=None):
        return client.post(url, body or {}, content_type="application/json", headers=headers)

    return post


def check_out(phone, session, pin):
    return phone(f"/api/v1/sessions/{session.pk}/end", {"pin": pin})


def raise_red(phone) -> int:
    response = phone("/api/v1/alarms")
    assert response.status_code == 201
    return response.json()["id"]


def cancel(phone, alarm_id, pin):
    return phone(f"/api/v1/alarms/{alarm_id}/cancel", {"pin": pin})


def hashed(call, *args):
    """The response, and how many PIN hashes the hasher checked to give it."""
    with mock.patch.object(MD5PasswordHasher, "verify", autospec=True,
                           side_effect=MD5PasswordHasher.verify) as verify:
        response = call(*args)
    return response, verify.call_count


def answer(response) -> tuple:
    """Everything the phone sees, but for the record's own id (and so its length) and
    the per-request id."""
    headers = {k: v for k, v in response.headers.items()
               if k not in ("X-Request-ID", "Content-Length")}
    body = response.json()
    if "id" in body:
        body = {**body, "id": "the record's id"}
    return response.status_code, body, headers


def test_mov_04_duress_check_out_answers_exactly_like_a_normal_one(trust, nina, phone,
                                                                   start_session):
    """The same answer after the same work: status, body and headers, and both hashes
    checked (about 220 ms each with Argon2, where the duress PIN used to take 110)."""
    first = start_session(interval=600)
    normal, normal_work = hashed(check_out, phone, first, PIN)
    second = start_session(interval=600)
    forced, forced_work = hashed(check_out, phone, second, DURESS)
    assert normal.status_code == 200 and normal.json() == {"id": first.pk, "state": "ended",
                                                           "due_at": None}
    assert (answer(forced), forced_work) == (answer(normal), normal_work) == (answer(normal), 2)
    assert forced.json()["id"] == second.pk
    alarm = Alarm.objects.get()
    assert (alarm.session_id, alarm.source, alarm.state) == (second.pk, "duress", "raised")


def test_mov_04_duress_cancel_answers_exactly_like_a_normal_one(trust, nina, phone):
    real, forced = raise_red(phone), raise_red(phone)
    normal, normal_work = hashed(cancel, phone, real, PIN)
    duress, duress_work = hashed(cancel, phone, forced, DURESS)
    assert normal.status_code == 200 and normal.json() == {"id": real, "cancelled": True}
    assert (answer(duress), duress_work) == (answer(normal), normal_work) == (answer(normal), 2)
    assert Alarm.objects.get(pk=real).state == "closed"
    alarm = Alarm.objects.get(pk=forced)
    assert (alarm.state, alarm.source, alarm.duress_suspected) == ("raised", "duress", True)


def test_mov_04_check_out_and_cancel_pages_read_the_same_for_both_pins(trust, nina,
                                                                       start_session, as_person):
    client = as_person(nina)
    seen = []
    for pin in (PIN, DURESS):
        session = start_session(interval=600)
        response, work = hashed(client.post, f"/sessions/{session.pk}/end", {"pin": pin})
        page = client.get(response["Location"]).content.decode()
        seen.append((response.status_code, response["Location"], work,
                     page.count("You have checked out. Stay safe.")))
    assert seen[0] == seen[1] == (302, "/my-day/", 2, 1)
    seen = []
    for pin in (PIN, DURESS):
        client.post("/my-day/alert/red")
        alarm = Alarm.objects.filter(source="app").order_by("-pk").first()
        response, work = hashed(client.post, f"/my-day/alarms/{alarm.pk}/cancel", {"pin": pin})
        page = client.get(response["Location"]).content.decode()
        seen.append((response.status_code, response["Location"], work,
                     page.count("Alarm cancelled.")))
    assert seen[0] == seen[1] == (302, "/my-day/", 2, 1)
    assert Alarm.objects.filter(source="duress", state="raised").count() == 2


def test_q_sec_check_out_always_checks_both_hashes(trust, nina, phone, start_session):
    """The same hashing work for every PIN, and for a worker with or without a duress
    PIN: counted at the hasher, not timed."""
    work, session = [], None
    for duress_set in (True, False):
        if not duress_set:
            nina.duress_pin_hash = ""
            nina.save()
        for pin in (PIN, DURESS, WRONG):
            if session is None or Session.objects.get(pk=session.pk).state == "ended":
                session = start_session(interval=600)
            response, checks = hashed(check_out, phone, session, pin)
            work.append((duress_set, pin, response.status_code, checks))
    assert work == [(True, PIN, 200, 2), (True, DURESS, 200, 2), (True, WRONG, 400, 2),
                    (False, PIN, 200, 2), (False, DURESS, 400, 2), (False, WRONG, 400, 2)]


def test_q_sec_alarm_cancel_always_checks_both_hashes(trust, nina, phone):
    work = []
    for duress_set in (True, False):
        if not duress_set:
            nina.duress_pin_hash = ""
            nina.save()
        for pin in (PIN, DURESS, WRONG):
            response, checks = hashed(cancel, phone, raise_red(phone), pin)
            work.append((duress_set, pin, response.status_code, checks))
    assert work == [(True, PIN, 200, 2), (True, DURESS, 200, 2), (True, WRONG, 400, 2),
                    (False, PIN, 200, 2), (False, DURESS, 400, 2), (False, WRONG, 400, 2)]


def test_q_sec_wrong_pins_at_check_out_and_cancel_share_one_lockout(trust, nina, phone,
                                                                     start_session, at):
    session = start_session(interval=3600)
    alarm = raise_red(phone)
    for _ in range(3):
        wrong = check_out(phone, session, WRONG)
        assert wrong.json() == {"detail": "That PIN is not right."}
    for _ in range(2):
        assert cancel(phone, alarm, WRONG).json() == {"detail": "That PIN is not right."}
    assert PinFailure.objects.filter(person=nina).count() == 5
    # Locked on both paths: even the right PIN is refused, with what to do meanwhile.
    refused = cancel(phone, alarm, PIN)
    assert refused.status_code == 400 and refused.json() == {"detail": LOCKED}
    refused = check_out(phone, session, PIN)
    assert refused.status_code == 400 and refused.json() == {"detail": LOCKED}
    # The worker's timeline shows the wrong PINs given at check-out.
    assert [e.summary for e in session.events.filter(kind="pin_failed")] == [
        "Check-out refused: wrong PIN"] * 3
    at(minutes=16)
    assert check_out(phone, session, PIN).status_code == 200


def test_q_sec_a_cancel_refused_by_the_lockout_leaves_the_alarm_alive(trust, nina, phone,
                                                                       start_session, at):
    session = start_session(interval=3600)
    alarm_id = raise_red(phone)
    for _ in range(5):
        check_out(phone, session, WRONG)
    before = Alarm.objects.get(pk=alarm_id)
    events = before.events.count()
    refused = cancel(phone, alarm_id, PIN)
    assert refused.status_code == 400 and refused.json() == {"detail": LOCKED}
    after = Alarm.objects.get(pk=alarm_id)
    assert (after.state, after.category, after.cancel_until, after.next_realert_at,
            after.source) == (before.state, before.category, before.cancel_until,
                              before.next_realert_at, before.source) and after.state == "raised"
    assert after.events.count() == events
    # A refused right PIN is not a wrong one: the lockout is not made longer.
    assert PinFailure.objects.filter(person=nina).count() == 5


def test_q_sec_lockout_on_the_pages_covers_check_out_and_cancel(trust, nina, start_session,
                                                               as_person):
    client = as_person(nina)
    session = start_session(interval=3600)
    client.post("/my-day/alert/red")
    alarm = Alarm.objects.get()
    for _ in range(5):
        client.post(f"/my-day/alarms/{alarm.pk}/cancel", {"pin": WRONG})
    page = client.post(f"/sessions/{session.pk}/end", {"pin": PIN})
    assert page.status_code == 400 and "If you are in danger, call 999." in page.content.decode()
    session.refresh_from_db()
    assert session.state == Session.State.ACTIVE
    refused = client.post(f"/my-day/alarms/{alarm.pk}/cancel", {"pin": PIN}, follow=True)
    assert "Too many wrong PINs" in refused.content.decode()
    assert Alarm.objects.get().state == "raised"


def test_mov_04_duress_pin_still_raises_the_alarm_while_pins_are_locked(trust, nina, phone,
                                                                       start_session):
    """A lockout never silences the duress PIN: the phone gets the same refusal as for
    the real PIN, and the alarm centre is told."""
    session = start_session(interval=3600)
    red = raise_red(phone)
    for _ in range(5):
        check_out(phone, session, WRONG)
    normal, normal_work = hashed(check_out, phone, session, PIN)
    forced, forced_work = hashed(check_out, phone, session, DURESS)
    assert (answer(forced), forced_work) == (answer(normal), normal_work)
    session.refresh_from_db()
    assert session.state == Session.State.ACTIVE
    silent = Alarm.objects.get(source="duress")
    assert (silent.session_id, silent.state) == (session.pk, "raised")
    assert silent.next_realert_at <= clock.now()
    normal_cancel, normal_work = hashed(cancel, phone, red, PIN)
    forced_cancel, forced_work = hashed(cancel, phone, red, DURESS)
    assert (answer(forced_cancel), forced_work) == (answer(normal_cancel), normal_work)
    alarm = Alarm.objects.get(pk=red)
    # Nothing the phone shows changes (the same source, still cancellable on screen)...
    assert (alarm.state, alarm.source, alarm.cancel_until is not None) == ("raised", "app",
                                                                           True)
    # ...and the alarm centre knows.
    assert alarm.duress_suspected and alarm.next_realert_at <= clock.now()
    assert alarm.events.filter(kind="duress").exists()


@pytest.mark.parametrize("again", [PIN, DURESS, WRONG])
def test_mov_04_a_second_cancel_after_a_duress_cancel_answers_as_after_a_normal_one(
        trust, nina, phone, again):
    real, forced = raise_red(phone), raise_red(phone)
    assert cancel(phone, real, PIN).status_code == 200
    assert cancel(phone, forced, DURESS).status_code == 200
    after_normal = cancel(phone, real, again)
    after_duress = cancel(phone, forced, again)
    assert after_normal.status_code == 409
    assert answer(after_duress) == answer(after_normal)
    alarm = Alarm.objects.get(pk=forced)
    assert (alarm.state, alarm.source, alarm.category) == ("raised", "duress", "")
    assert not alarm.events.filter(kind="closed").exists()


def test_mov_04_a_second_cancel_on_the_page_reads_as_after_a_normal_one(trust, nina,
                                                                         as_person):
    client = as_person(nina)
    pages = []
    for first in (PIN, DURESS):
        client.post("/my-day/alert/red")
        alarm = Alarm.objects.order_by("-pk").first()
        client.post(f"/my-day/alarms/{alarm.pk}/cancel", {"pin": first})
        client.get("/my-day/")  # the first cancel's message is shown and gone
        again = client.post(f"/my-day/alarms/{alarm.pk}/cancel", {"pin": PIN}, follow=True)
        pages.append(("can no longer be cancelled" in again.content.decode(),
                      "Alarm cancelled." in again.content.decode()))
    assert pages == [(True, False), (True, False)]
    forced = Alarm.objects.order_by("-pk").first()
    assert (forced.state, forced.source) == ("raised", "duress")
