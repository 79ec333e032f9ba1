"""MOV-04: after a duress PIN, nothing the worker's account can read differs from the
normal case.

Two workers of one team, alike in everything, do the same thing at the same moments;
one uses the real PIN, the other the duress PIN. Everything each can fetch (the API,
My day, the session's page, the home page) is compared once names and ids are set
aside: right after, and again after the alarm centre has been re-alerted, has
acknowledged and escalated, and every message has gone.
"""

import json
import re
from datetime import timedelta

import pytest
from django.contrib.auth.hashers import make_password
from django.test import Client

from lonewatch import clock
from lonewatch.accounts.actions import do_create_token
from lonewatch.alarms import actions as alarms
from lonewatch.alarms.models import Alarm
from lonewatch.escalation import actions as escalation
from lonewatch.notify.actions import send_due
from lonewatch.org.roles import Role
from lonewatch.visits.actions import do_start_session, send_reminders
from tests.conftest import login

PIN, DURESS = "2468", "9753"


class Worker:
    """One of the two workers: their phone (API token), their browser, their records."""

    def __init__(self, trust, name: str):
        self.person = trust.people.get(name) or trust.person(
            name, trust.north, [Role.LONE_WORKER, Role.BUDDY],
            line_manager=trust.people["maria"])
        now = clock.now()
        p = self.person
        p.full_name = name.title()
        p.buddy, p.buddy_accepted_at = trust.people["ben"], now
        p.pin_hash, p.duress_pin_hash = make_password(PIN), make_password(DURESS)
        p.location_consent_at = now
        p.save()
        self.token, raw = do_create_token(p.user, name="phone", actor=p.user)
        self.headers = {"Authorization": f"Bearer {raw}"}
        self.api = Client()
        self.browser = login(Client(), p)
        self.ids: dict[str, str] = {}

    def post(self, url, body=None):
        return self.api.post(url, body or {}, content_type="application/json",
                             headers=self.headers)

    def start(self):
        now = clock.now()
        self.session = do_start_session(
            self.person, actor=self.person.user, kind="visit", address="12 Acacia Avenue",
            postcode="PE13 1AB", planned_start=now, planned_end=now + timedelta(hours=2),
            buddy=self.person.buddy, interval_seconds=900, lat=52.66, lon=0.16,
            accuracy_m=10)
        self.ids["SESSION"] = str(self.session.pk)
        return self.session

    def everything(self) -> dict[str, str]:
        """All the worker's account can read, with their name and ids set aside."""
        seen = {}
        for url in ("/api/v1/sessions", f"/api/v1/sessions/{self.session.pk}",
                    "/api/v1/alarms", "/api/v1/escalations", "/api/v1/me"):
            response = self.api.get(url, headers=self.headers)
            seen[url.replace(f"/{self.session.pk}", "/SESSION")] = \
                f"{response.status_code} {response.content.decode()}"
        for name, url in (("my day", "/my-day/"), ("session page", "/sessions/SESSION/"),
                          ("home", "/"), ("profile", "/profile/")):
            response = self.browser.get(url.replace("SESSION", str(self.session.pk)))
            seen[name] = f"{response.status_code} {response.content.decode()}"
        for alarm_id in self.ids.get("ALARMS", []):
            response = self.api.get(f"/api/v1/alarms/{alarm_id}", headers=self.headers)
            seen["the alarm"] = f"{response.status_code} {response.content.decode()}"
        return {key: self._plain(value) for key, value in seen.items()}

    def answer(self, response) -> str:
        return self._plain(f"{response.status_code} {response.content.decode()}")

    def _plain(self, text: str) -> str:
        p = self.person
        named = [(self.session.pk, "SESSION"), (p.pk, "PERSON"), (self.token.pk, "TOKEN"),
                 *((a, "ALARM") for a in self.ids.get("ALARMS", [])),
                 *((e, "ESCALATION") for e in self.session.escalations.values_list(
                     "pk", flat=True))]
        labels: dict[str, str] = {}
        for value, label in named:  # one id may name two records: both labels, in order
            labels[str(value)] = "+".join(sorted({*labels.get(str(value), "").split("+"),
                                                  label} - {""}))
        try:
            data = json.loads(text.split(" ", 1)[1]) if text[:3].isdigit() else None
        except ValueError:
            data = None
        if data is not None:
            text = text[:4] + json.dumps(self._ids_out(data, labels), sort_keys=True)
        text = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"|"X-CSRFToken": "[^"]+"',
                      "CSRF", text)
        text = text.replace(p.full_name, "WORKER").replace(p.user.username, "WORKER")
        text = re.sub(r"lw_[A-Za-z0-9_-]{4,8}…", "TOKEN…", text)  # the phone's token prefix
        # Each twin is offered the other as a cover buddy.
        twin = self.twin.person
        text = text.replace(f'value="{twin.pk}">{twin.full_name}<', 'value="TWIN">TWIN<')
        for value, label in labels.items():
            # In pages, ids stand in links: /sessions/7/, /people/7/.
            text = re.sub(rf"(?<=/){value}(?=[/\"?#])", label, text)
        return text

    def _ids_out(self, data, labels):
        if isinstance(data, list):
            return [self._ids_out(item, labels) for item in data]
        if isinstance(data, dict):
            return {key: (labels.get(str(value), value)
                          if key in ("id", "worker_id", "session_id", "person_id")
                          else self._ids_out(value, labels)) for key, value in data.items()}
        return data


@pytest.fixture
def twins(trust, at):
    at(minutes=0)
    nina, nora = Worker(trust, "nina"), Worker(trust, "nora")
    nina.twin, nora.twin = nora, nina
    return nina, nora


def _later(at, minutes: int):
    """The worker process's work after ``minutes``: re-alerts, steps, messages."""
    at(minutes=minutes)
    for _ in range(3):
        escalation.start_due()
        escalation.fire_due()
        alarms.realert_due()
        send_reminders()
        send_due()


def _assert_alike(real: dict, duress: dict):
    assert real.keys() == duress.keys()
    for key in real:
        assert real[key] == duress[key], f"{key} differs after the duress PIN"


@pytest.mark.django_db
def test_mov_04_after_a_duress_check_out_the_worker_reads_what_a_normal_one_shows(
        trust, twins, at):
    real, duress = twins
    real.start(), duress.start()
    at(minutes=5)
    answers = [w.post(f"/api/v1/sessions/{w.session.pk}/end", {"pin": pin})
               for w, pin in ((real, PIN), (duress, DURESS))]
    assert answers[0].status_code == answers[1].status_code == 200
    assert real.answer(answers[0]) == duress.answer(answers[1])
    # The alarm centre has it, with where the worker was.
    silent = Alarm.objects.get(worker=duress.person)
    assert (silent.source, silent.lat, silent.lon) == ("duress", 52.66, 0.16)
    _assert_alike(real.everything(), duress.everything())
    # Minutes later: re-alerts, the operator's handling, every message sent.
    _later(at, 7)
    olivia = trust.people["olivia"].user
    alarms.do_acknowledge(silent, actor=olivia)
    alarms.do_escalate(silent, actor=olivia, to="emergency_services", reference="CAD-1")
    _later(at, 12)
    _assert_alike(real.everything(), duress.everything())


@pytest.mark.django_db
def test_mov_04_after_a_duress_cancel_the_worker_reads_what_a_normal_cancel_shows(
        trust, twins, at):
    real, duress = twins
    real.start(), duress.start()
    at(minutes=5)
    for worker in twins:
        response = worker.post("/api/v1/alarms", {"lat": 52.66, "lon": 0.16})
        assert response.status_code == 201
        worker.ids["ALARMS"] = [str(response.json()["id"])]
    at(minutes=5, seconds=20)
    answers = [w.post(f"/api/v1/alarms/{w.ids['ALARMS'][0]}/cancel", {"pin": pin})
               for w, pin in ((real, PIN), (duress, DURESS))]
    assert answers[0].status_code == answers[1].status_code == 200
    assert real.answer(answers[0]) == duress.answer(answers[1])
    _assert_alike(real.everything(), duress.everything())
    # The phone still sending a location, as a page might: answered alike.
    tried = [w.post(f"/api/v1/alarms/{w.ids['ALARMS'][0]}/locations",
                    {"lat": 52.67, "lon": 0.17}) for w in twins]
    assert tried[0].status_code == tried[1].status_code == 409
    live = Alarm.objects.get(worker=duress.person)
    assert live.is_open and live.source == "duress"
    _later(at, 9)
    olivia = trust.people["olivia"].user
    alarms.do_acknowledge(live, actor=olivia)
    alarms.do_flag_duress(live, actor=olivia)
    _later(at, 15)
    _assert_alike(real.everything(), duress.everything())
    # A second cancel: the same answer after either PIN, and the alarm lives on.
    again = [w.post(f"/api/v1/alarms/{w.ids['ALARMS'][0]}/cancel", {"pin": PIN})
             for w in twins]
    assert (again[0].status_code, again[0].json()) == (again[1].status_code, again[1].json())
    live.refresh_from_db()
    assert live.is_open
