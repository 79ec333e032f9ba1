"""Alarms with recordings, made through the API as the phone and the console make them."""

from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.test import Client

from lonewatch import clock
from lonewatch.alarms import actions as alarms
from lonewatch.alarms.models import Alarm
from lonewatch.recordings.models import Recording
from tests.conftest import post

EBML = b"\x1a\x45\xdf\xa3"
AUDIO = [EBML + b"a real recording starts here", b"-then a cluster-", b"-and another-"]


@dataclass
class Made:
    alarm: Alarm

    @property
    def recording(self) -> Recording:
        return Recording.objects.get(alarm=self.alarm)


@pytest.fixture
def make(trust, desk, client):
    """``make("red", close="false_alarm")``: an alarm of Nina's with three chunks of audio
    (and a location), closed as asked by Olivia (on duty)."""
    olivia = trust.people["olivia"]

    def _make(kind="red", *, close=None, audio=True, duress=False, escalate=None) -> Made:
        body = {"lat": 52.6661, "lon": 0.1596} if kind == "red" else {
            "message": "Going in: dog in the house", "lat": 52.6661, "lon": 0.1596}
        created = post(client, "/api/v1/alarms" if kind == "red" else "/api/v1/ambers",
                       desk["nina"], body)
        assert created.status_code == 201, created.content
        alarm = Alarm.objects.get(pk=created.json()["id"])
        if audio:
            for seq, data in enumerate(AUDIO if kind == "red" else AUDIO[:1]):
                sent = client.post(f"/api/v1/alarms/{alarm.pk}/audio?seq={seq}", data,
                                   content_type="audio/webm", headers=desk["nina"])
                assert sent.status_code == 201, sent.content
        if kind == "red":
            post(client, f"/api/v1/alarms/{alarm.pk}/locations", desk["nina"],
                 {"lat": 52.667, "lon": 0.16, "accuracy_m": 20})
        if close:
            alarm.cancel_until = None
            alarm.save(update_fields=["cancel_until"])
            alarms.do_acknowledge(alarm, actor=olivia.user)
            if escalate:
                alarms.do_escalate(alarm, actor=olivia.user, to=escalate, reference="CAD 4471")
            if duress:
                alarms.do_flag_duress(alarm, actor=olivia.user, note="She sounded afraid")
            alarms.do_close(alarm, actor=olivia.user, category=close,
                            worker_agreed=True if close == "false_alarm" else None)
        alarm.refresh_from_db()
        return Made(alarm)

    return _make


def hours(n: float) -> timedelta:
    return timedelta(hours=n)


def later(time_machine, delta: timedelta) -> None:
    time_machine.move_to(clock.now() + delta, tick=False)


@pytest.fixture
def security_manager(trust):
    return Client(headers=_bearer(trust.people["leslie"]))


def _bearer(person):
    from tests.conftest import bearer

    return bearer(person)
