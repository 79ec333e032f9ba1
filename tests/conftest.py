"""Named people in a small trust, shared by every test.

Community Services has teams North and South; Mental Health has the CMHT.
Nina (nurse) works in North, managed by Maria; Sol works in South but reports
to Maria directly. Otto is a lone worker in the CMHT: outside the reach of
everyone in Community Services who is not organisation-wide.
"""

import socket

import pytest
from django.test import Client

from lonewatch.accounts.models import User
from lonewatch.org.models import Directorate, Organisation, Person, RoleMembership, Team
from lonewatch.org.roles import Role, Scope

# Browser fixtures live in one module and are registered once here, so the whole run
# shares one Playwright (two would fight over the event loop).
from tests.browser import browser, media_browser, phone  # noqa: E402, F401

PASSWORD = "correct-horse-battery"


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _recordings_store(settings, tmp_path):
    """Each test keeps its recordings in a folder of its own (``tmp_path/recordings``)."""
    settings.STORAGES = {**settings.STORAGES, "recordings": {
        **settings.STORAGES["recordings"],
        "OPTIONS": {**settings.STORAGES["recordings"]["OPTIONS"],
                    "location": tmp_path / "recordings"}}}


@pytest.fixture(autouse=True)
def _fresh_alarm_hub():
    """A test that opens an alarm event stream starts this process's hub; stop it after
    the test, so its buffer (of rows the test may roll back) and its database
    connections do not outlive the test."""
    yield
    from lonewatch.alarms import hub

    hub.stop()


class Trust:
    def __init__(self):
        self.org = Organisation.objects.create(name="Test Trust")
        self.community = Directorate.objects.create(organisation=self.org, name="Community")
        self.mental_health = Directorate.objects.create(organisation=self.org,
                                                        name="Mental Health")
        self.north = Team.objects.create(directorate=self.community, name="North")
        self.south = Team.objects.create(directorate=self.community, name="South")
        self.cmht = Team.objects.create(directorate=self.mental_health, name="CMHT")
        self.people: dict[str, Person] = {}

    def person(self, name, team=None, roles=(), **fields) -> Person:
        user = User.objects.create_user(username=name, password=PASSWORD)
        person = Person.objects.create(user=user, organisation=self.org, team=team,
                                       full_name=name.title(), mobile="+447700900100",
                                       **fields)
        for role in roles:
            role, scope = role if isinstance(role, tuple) else (role, None)
            scope = scope or {
                Role.LINE_MANAGER: Scope.TEAM, Role.SENIOR_MANAGER: Scope.DIRECTORATE,
                Role.DIRECTORATE_LEAD: Scope.DIRECTORATE,
            }.get(role, Scope.ORGANISATION if role not in (Role.LONE_WORKER, Role.BUDDY)
                  else Scope.OWN)
            target = {}
            if scope == Scope.TEAM:
                target["team"] = team
            elif scope == Scope.DIRECTORATE:
                target["directorate"] = team.directorate
            RoleMembership.objects.create(person=person, role=role, scope=scope, **target)
        self.people[name] = person
        return person


@pytest.fixture
def trust(db) -> Trust:
    t = Trust()
    t.person("maria", t.north, [Role.LINE_MANAGER, Role.BUDDY])
    t.person("nina", t.north, [Role.LONE_WORKER, Role.BUDDY],
             line_manager=t.people["maria"])
    t.person("ben", t.north, [Role.LONE_WORKER, Role.BUDDY], line_manager=t.people["maria"])
    t.person("sol", t.south, [Role.LONE_WORKER], line_manager=t.people["maria"])
    t.person("sarah", t.north, [Role.SENIOR_MANAGER])
    t.person("claire", t.south, [Role.DIRECTORATE_LEAD])
    t.person("leslie", None, [Role.SECURITY_MANAGER])
    t.person("anita", None, [Role.SECURITY_DIRECTOR])
    t.person("olivia", None, [Role.ALARM_OPERATOR])
    t.person("helen", None, [Role.OCCUPATIONAL_HEALTH])
    t.person("jo", None, [Role.INDEPENDENT_CLINICIAN])
    t.person("adam", None, [Role.ADMINISTRATOR])
    t.person("marcus", t.cmht, [Role.LINE_MANAGER])
    t.person("otto", t.cmht, [Role.LONE_WORKER], line_manager=t.people["marcus"])
    nina = t.people["nina"]
    nina.buddy = t.people["ben"]
    nina.save()
    return t


def login(client: Client, person: Person, *, verified: bool = False) -> Client:
    client.force_login(person.user)
    if verified:
        from django_otp.plugins.otp_totp.models import TOTPDevice

        device = TOTPDevice.objects.create(user=person.user, name="test", confirmed=True)
        session = client.session
        session["otp_device_id"] = device.persistent_id
        session.save()
    return client


def token_for(person: Person, name: str = "phone") -> str:
    """A fresh API token for ``person``. A privileged role gets a privileged token, as if
    made on the profile page after the second factor (Q-SEC)."""
    from lonewatch.accounts.actions import do_create_token
    from lonewatch.org.roles import PRIVILEGED_ROLES

    privileged = person.roles.filter(role__in=PRIVILEGED_ROLES).exists()
    return do_create_token(person.user, name=name, actor=person.user, privileged=privileged)[1]


@pytest.fixture
def as_person(client):
    def _login(person, verified=False):
        return login(client, person, verified=verified)

    return _login


@pytest.fixture
def nina_ready(trust):
    """Nina with an accepted buddy (Ben), a check-out PIN and consent to location."""
    from django.contrib.auth.hashers import make_password

    from lonewatch import clock

    nina = trust.people["nina"]
    nina.buddy_accepted_at = clock.now()
    nina.pin_hash = make_password("2468")
    nina.location_consent_at = clock.now()
    nina.save()
    return nina


@pytest.fixture
def start_session(nina_ready, trust, settings):
    """Start a session for Nina with a given interval (seconds) and optional extras."""
    from datetime import timedelta

    from lonewatch import clock
    from lonewatch.visits.actions import do_start_session

    settings.MIN_CHECKIN_INTERVAL_SECONDS = 60

    def _start(interval=600, hours=2, **extra):
        now = clock.now()
        values = {"kind": "visit", "address": "12 Acacia Avenue, Wisbech",
                  "postcode": "PE13 1AB", "planned_start": now,
                  "planned_end": now + timedelta(hours=hours), "buddy": trust.people["ben"],
                  "interval_seconds": interval} | extra
        return do_start_session(nina_ready, actor=nina_ready.user, **values)

    return _start


T0 = "2026-11-23 09:00:00+00:00"


@pytest.fixture
def at(time_machine):
    """Move the one clock to T0 plus a delta (``at(minutes=10)``); it stands still between."""
    from datetime import datetime, timedelta

    time_machine.move_to(T0, tick=False)

    def _at(**delta):
        time_machine.move_to(datetime.fromisoformat(T0) + timedelta(**delta), tick=False)

    return _at


# An address on the public internet, for names that must pass Lonewatch's check of the
# addresses it calls. Tests never connect to it.
PUBLIC_IP = "81.2.69.160"


class FakeDNS:
    """Names answer with the addresses a test chooses; other names go to the real
    resolver. ``answer(name, "a", then="b")`` gives "a" once, then "b" from then on;
    ``answer(name)`` says there is no such name."""

    def __init__(self):
        self.answers: dict[str, list[list[str]]] = {}
        self.lookups: dict[str, int] = {}

    def answer(self, name: str, *addresses: str, then: str | tuple | None = None) -> None:
        later = [then] if isinstance(then, str) else list(then or [])
        self.answers[name] = [list(addresses)] + ([later] if later else [])
        self.lookups[name] = 0

    def getaddrinfo(self, real, host, port, family=0, type=0, proto=0, flags=0):
        name = host.decode() if isinstance(host, bytes) else host
        if name not in self.answers:
            return real(host, port, family, type, proto, flags)
        self.lookups[name] = self.lookups.get(name, 0) + 1
        queue = self.answers[name]
        addresses = queue.pop(0) if len(queue) > 1 else queue[0]
        if not addresses:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        port = int(port or 0)
        return [(socket.AF_INET6, socket.SOCK_STREAM, socket.IPPROTO_TCP, "",
                 (address, port, 0, 0)) if ":" in address else
                (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, port))
                for address in addresses]


@pytest.fixture
def dns(monkeypatch) -> FakeDNS:
    fake = FakeDNS()
    real = socket.getaddrinfo
    monkeypatch.setattr(socket, "getaddrinfo",
                        lambda *args, **kwargs: fake.getaddrinfo(real, *args, **kwargs))
    return fake


def bearer(person) -> dict:
    """The Authorization header of a fresh token for ``person`` (see ``token_for``)."""
    return {"Authorization": f"Bearer {token_for(person)}"}


def post(client, url, headers, body=None):
    """A JSON POST to the API with ``headers``."""
    return client.post(url, body or {}, content_type="application/json", headers=headers)


@pytest.fixture
def desk(trust, nina_ready):
    """Olivia on duty at the alarm centre; Nina with a PIN and a duress PIN; the API
    headers of Nina, Olivia, Leslie and Ben."""
    from django.contrib.auth.hashers import make_password

    from lonewatch.alarms import actions

    nina_ready.duress_pin_hash = make_password("9753")
    nina_ready.save()
    actions.do_duty(trust.people["olivia"], on=True, actor=trust.people["olivia"].user)
    return {"nina": bearer(nina_ready), "olivia": bearer(trust.people["olivia"]),
            "leslie": bearer(trust.people["leslie"]), "ben": bearer(trust.people["ben"])}
