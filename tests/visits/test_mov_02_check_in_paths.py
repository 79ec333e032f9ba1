"""MOV-02, ESC-02, MOV-05, Q-SEC: a check-in is one implementation. Every kind of check-in
gets the same answer, header by header, and leaves the same rows, whether the fast lane
answers it or Django routes it through all of its middleware.

Each case is played in two identical worlds at the same frozen moment: Nina's check-ins
go through the fast lane, Nora's (the same set-up in every respect) through Django
alone. Runs on SQLite and on PostgreSQL (where the plain check-in is one statement).
"""

import io
import json
from dataclasses import dataclass
from datetime import timedelta
from wsgiref.util import setup_testing_defaults

import pytest
from django.contrib.auth.hashers import make_password
from django.core.exceptions import ImproperlyConfigured
from django.core.handlers.wsgi import WSGIHandler
from django.db import connection
from django.test.utils import CaptureQueriesContext

from lonewatch import clock
from lonewatch.accounts.actions import do_create_token, do_revoke_token
from lonewatch.accounts.models import ApiToken
from lonewatch.api.fastlane import CheckInFastLane
from lonewatch.escalation import actions as engine
from lonewatch.escalation.models import Escalation
from lonewatch.org.models import Person
from lonewatch.org.roles import Role
from lonewatch.visits.actions import do_end_session, do_set_location_consent, do_start_session
from lonewatch.visits.models import Session

pytestmark = pytest.mark.django_db(transaction=True)

T0 = "2026-11-23 09:00:00+00:00"
HERE = {"lat": 52.6661, "lon": 0.1596, "accuracy_m": 12, "note": "Arrived"}


@dataclass
class World:
    """One lone worker on a visit, and the tokens that may try to check her in."""

    worker: Person
    session: Session
    token: str  # her phone
    buddy_token: str  # Ben watches the session but it is not his
    outsider_token: str  # Otto, in another team, cannot even see it


def world(trust, name: str) -> World:
    worker = trust.person(name, trust.north, [Role.LONE_WORKER, Role.BUDDY],
                          line_manager=trust.people["maria"])
    worker.buddy = trust.people["ben"]
    worker.buddy_accepted_at = clock.now()
    worker.pin_hash = make_password("2468")
    worker.location_consent_at = clock.now()
    worker.save()
    session = do_start_session(
        worker, actor=worker.user, kind="visit", address="12 Acacia Avenue, Wisbech",
        postcode="PE13 1AB", planned_start=clock.now(),
        planned_end=clock.now() + timedelta(hours=2), buddy=trust.people["ben"],
        interval_seconds=900, lat=52.66, lon=0.15, accuracy_m=30)

    def token(person):
        return do_create_token(person.user, name=f"phone for {name}", actor=person.user)[1]

    return World(worker, session, token(worker), token(trust.people["ben"]),
                 token(trust.people["otto"]))


def send(app, w: World, *, body=None, raw: bytes | None = None, token: str | None = "own",
         host="127.0.0.1", extra=None) -> dict:
    """POST a check-in for ``w``'s session to a WSGI application, as a server would."""
    raw = raw if raw is not None else json.dumps(body if body is not None else {}).encode()
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": f"/api/v1/sessions/{w.session.pk}/checkins",
               "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(raw)),
               "HTTP_HOST": host, "HTTP_X_REQUEST_ID": "check-in-under-test",
               "wsgi.input": io.BytesIO(raw)} | (extra or {})
    if token is not None:
        bearer = {"own": w.token, "buddy": w.buddy_token, "outsider": w.outsider_token}
        environ["HTTP_AUTHORIZATION"] = f"Bearer {bearer.get(token, token)}"
    setup_testing_defaults(environ)
    answer = {}

    def start_response(status, headers, exc_info=None):
        answer["status"], answer["headers"] = status, headers

    response = app(environ, start_response)
    try:
        answer["body"] = b"".join(response)
    finally:
        getattr(response, "close", lambda: None)()  # as a WSGI server does
    return answer


def comparable(answer: dict, w: World) -> dict:
    """The answer with what differs between the two worlds by construction (the session's
    id, and so the body's length) taken out."""
    headers = [(k, v) if k != "Content-Length" else (k, "the body's length")
               for k, v in answer["headers"]]
    assert dict(answer["headers"]).get("Content-Length", str(len(answer["body"]))) == \
        str(len(answer["body"]))
    if dict(headers)["Content-Type"].startswith("application/json"):
        body = json.loads(answer["body"])
        if "id" in body:
            assert body["id"] == w.session.pk
            body["id"] = "the session"
    else:
        body = answer["body"]
    return {"status": answer["status"], "headers": headers, "body": body}


def rows(w: World) -> dict:
    """Everything a check-in may write about ``w``, with her own name and ids named."""
    def who(user_id):
        return "the worker" if user_id == w.worker.user_id else user_id

    def text(summary):
        return summary.replace(w.worker.full_name, "the worker")

    session = Session.objects.get(pk=w.session.pk)
    escalations = set(Escalation.objects.filter(session=session).values_list("pk", flat=True))

    def named(data):
        """Timeline data with her person id and her escalations' ids named."""
        data = dict(data)
        if "recipient" in data:
            data["recipient"] = "the worker" if data["recipient"] == w.worker.pk \
                else data["recipient"]
        if "recipients" in data:
            data["recipients"] = ["the worker" if p == w.worker.pk else p
                                  for p in data["recipients"]]
        if data.get("escalation") in escalations:
            data["escalation"] = "her escalation"
        return data

    return {
        "session": {f: getattr(session, f) for f in (
            "state", "due_at", "remind_at", "end_remind_at", "last_contact_at", "last_lat",
            "last_lon", "last_accuracy_m", "last_location_at", "ended_at")},
        "timeline": [(e.at, e.kind, who(e.actor_id), text(e.summary), e.lat, e.lon,
                      e.accuracy_m, named(e.data)) for e in session.events.order_by("at", "id")],
        "escalations": [(e.state, e.outcome, e.resolved_at, who(e.resolved_by_id))
                        for e in Escalation.objects.filter(session=session)],
        "tokens": {who(t.user_id): (t.last_used_at, t.revoked_at, t.expires_at)
                   for t in ApiToken.objects.filter(name=phone(w))},
    }


def phone(w: World) -> str:
    return f"phone for {w.worker.user.username}"


class Behind:
    """Django behind the lane, counting what the lane hands it."""

    def __init__(self, django):
        self.django, self.handed = django, 0

    def __call__(self, environ, start_response):
        self.handed += 1
        return self.django(environ, start_response)


@pytest.fixture
def lane_and_django(settings):
    """The two ways in, built after the test's settings: the lane in front of Django, and
    Django alone."""
    settings.MIN_CHECKIN_INTERVAL_SECONDS = 60
    django = WSGIHandler()
    return CheckInFastLane(Behind(django)), django


def overdue(w: World):
    """Nothing to do in each world: both deadlines pass, and escalations start on both."""


def withdraw_consent(w: World):
    do_set_location_consent(w.worker, consent=False, actor=w.worker.user)


def revoke(w: World):
    do_revoke_token(ApiToken.objects.get(name=phone(w), user=w.worker.user),
                    actor=w.worker.user)


def expire(w: World):
    # Q-SEC: privileged tokens expire; a token is refused from the moment it expires.
    ApiToken.objects.filter(name=phone(w), user=w.worker.user).update(expires_at=clock.now())


def expire_soon(w: World):
    ApiToken.objects.filter(name=phone(w), user=w.worker.user).update(
        expires_at=clock.now() + timedelta(seconds=1))


def switch_off_account(w: World):
    w.worker.user.is_active = False
    w.worker.user.save()


def end(w: World):
    do_end_session(w.session, actor=w.worker.user, pin="2468")


# name: (prepare each world, minutes after the start, request, expected status)
ANSWERED_BY_THE_LANE = {
    "on time, with a position": (None, 5, {"body": HERE}, 200),
    "on time, no position": (None, 5, {"body": {}}, 200),
    "on time, accuracy but no position": (None, 5, {"body": {"accuracy_m": 5}}, 200),
    "on time, a long note": (None, 5, {"body": {"note": "x" * 400}}, 200),
    "on time, whole numbers": (None, 5, {"body": {"lat": 52, "lon": 0, "accuracy_m": 9}}, 200),
    "overdue: the late check-in resolves the escalation": (overdue, 16, {"body": HERE}, 200),
    "consent withdrawn: the position is not kept": (withdraw_consent, 5, {"body": HERE}, 200),
    "someone else's session the caller watches": (None, 5, {"token": "buddy"}, 403),
    "someone else's session the caller cannot see": (None, 5, {"token": "outsider"}, 404),
    "a longitude without a latitude": (None, 5, {"body": {"lon": 0.1}}, 400),
    "a revoked token": (revoke, 5, {"body": HERE}, 401),
    "an expired token": (expire, 5, {"body": HERE}, 401),
    "a token a second before it expires": (expire_soon, 5, {"body": HERE}, 200),
    "an account switched off": (switch_off_account, 5, {"body": HERE}, 401),
    "an unknown token": (None, 5, {"token": "lw_not-a-token"}, 401),
    "a token of another kind": (None, 5, {"token": "not-ours"}, 401),
    "an ended session": (end, 5, {"body": HERE}, 409),
}

# What the lane hands to Django untouched: no token, a body that is not plainly a
# check-in (the view's schema decides), a host Django must judge.
HANDED_TO_DJANGO = {
    "on time, a field the API does not know": (None, 5, {"body": {"mood": "fine"}}, 200),
    "on time, numbers sent as text": (None, 5, {"body": {"lat": "52.6", "lon": "0.1"}}, 200),
    "a position too large for any number": (
        None, 5, {"raw": b'{"lat": 1' + b"0" * 400 + b', "lon": 0}'}, 400),
    "no token": (None, 5, {"token": None}, 401),
    "a body that is not JSON": (None, 5, {"raw": b"{not json"}, 400),
    "an empty body": (None, 5, {"raw": b""}, 400),
    # The API's schema reads any JSON value as an object without fields: whatever it
    # answers, it answers alike.
    "a body that is not an object": (None, 5, {"raw": b"[1, 2]"}, None),
    "a note that is not text": (None, 5, {"body": {"note": 5}}, 400),
    "a note that is null": (None, 5, {"body": {"note": None}}, 400),
    "a bad body and a revoked token": (revoke, 5, {"raw": b"{not json"}, 400),
    "a host Lonewatch does not serve": (None, 5, {"host": "evil.example"}, 400),
    # Out of the schema's bounds: the schema's refusal, as the view gives it.
    "a latitude off the globe": (None, 5, {"body": {"lat": 95, "lon": 0}}, 400),
    "an accuracy out of range": (None, 5, {"body": HERE | {"accuracy_m": -1}}, 400),
    "a position that is not a number": (None, 5, {"raw": b'{"lat": NaN, "lon": 0}'}, 400),
    # The schema refuses before anyone's rights are looked at.
    "a bad position on someone else's session": (
        None, 5, {"body": {"lat": 95, "lon": 0}, "token": "buddy"}, 400),
}


def play(case, trust, lane_and_django, time_machine, *, lane_answers: bool, name: str):
    """Play one case in a fresh pair of worlds and compare what each way in left."""
    prepare, minutes, request, status = case
    lane, django = lane_and_django
    time_machine.move_to(T0, tick=False)
    nina, nora = world(trust, f"{name}_lane"), world(trust, f"{name}_django")
    time_machine.move_to(clock.now() + timedelta(minutes=minutes), tick=False)
    if prepare is overdue:
        engine.start_due()
    for w in (nina, nora):
        if prepare is not None:
            prepare(w)
        w.session.refresh_from_db()
    before = rows(nina)
    assert before == rows(nora)
    handed = lane.django_application.handed

    through_lane = send(lane, nina, **request)
    through_django = send(django, nora, **request)

    if status is not None:
        assert through_lane["status"].startswith(str(status)), through_lane
    assert lane.django_application.handed == handed + (not lane_answers)
    assert comparable(through_lane, nina) == comparable(through_django, nora)
    assert rows(nina) == rows(nora)
    after = rows(nina)
    if through_lane["status"] == "200 OK":
        assert after["timeline"][-1][1] == "checked_in"
        assert after["session"]["state"] == "active"
        assert after["session"]["due_at"] == clock.now() + timedelta(minutes=15)
    else:
        assert after["session"] == before["session"]
        assert after["timeline"] == before["timeline"]
    if prepare is overdue:
        assert after["escalations"][0][:2] == ("resolved", "worker_checked_in_late")
        assert after["timeline"][-1][3] == "Checked in late: Arrived"
    if prepare is withdraw_consent:  # MOV-05
        assert after["session"]["last_lat"] == before["session"]["last_lat"] == 52.66
        assert after["timeline"][-1][4:7] == (None, None, None)


@pytest.mark.parametrize("case", ANSWERED_BY_THE_LANE)
def test_mov_02_every_kind_of_check_in_answers_alike_through_the_lane_and_django(
        case, trust, lane_and_django, time_machine):
    play(ANSWERED_BY_THE_LANE[case], trust, lane_and_django, time_machine, lane_answers=True,
         name="w")


def test_mov_02_what_the_lane_does_not_read_plainly_django_answers(trust, lane_and_django,
                                                                   time_machine):
    for number, (label, case) in enumerate(HANDED_TO_DJANGO.items()):
        try:
            play(case, trust, lane_and_django, time_machine, lane_answers=False,
                 name=f"w{number}")
        except AssertionError as error:
            raise AssertionError(f"{label}: {error}") from error


def test_mov_02_the_lane_answers_with_djangos_headers_over_https(trust, settings,
                                                                 time_machine):
    """Behind the proxy, over HTTPS: HSTS and the rest, as Django adds them."""
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.MIN_CHECKIN_INTERVAL_SECONDS = 60
    django = WSGIHandler()
    lane = CheckInFastLane(Behind(django))
    time_machine.move_to(T0, tick=False)
    nina, nora = world(trust, "nina_lane"), world(trust, "nora_django")
    https = {"HTTP_X_FORWARDED_PROTO": "https"}
    through_lane = send(lane, nina, body=HERE, extra=https)
    through_django = send(django, nora, body=HERE, extra=https)
    assert through_lane["status"] == "200 OK"
    assert lane.django_application.handed == 0  # the lane answered it itself
    assert comparable(through_lane, nina) == comparable(through_django, nora)
    headers = dict(through_lane["headers"])
    assert headers["Strict-Transport-Security"] == "max-age=31536000"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert headers["X-Request-ID"] == "check-in-under-test"
    assert rows(nina) == rows(nora)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the one statement is PostgreSQL's")
def test_mov_02_a_check_in_runs_the_check_in_statement_once(trust, lane_and_django,
                                                           time_machine):
    """Through the lane and through Django, on time and late: the statement runs once. A
    late check-in is done by the ordinary path, after the statement changed nothing."""
    time_machine.move_to(T0, tick=False)
    apps = dict(zip(("lane", "django"), lane_and_django, strict=True))
    worlds = {(when, way): world(trust, f"{when}_{way}") for when in ("on_time", "late")
              for way in apps}

    def check_in(when, way):
        with CaptureQueriesContext(connection) as queries:
            assert send(apps[way], worlds[when, way], body=HERE)["status"] == "200 OK"
        statements = [q for q in queries.captured_queries
                      if "accounts_apitoken" in q["sql"] and "visits_sessionevent" in q["sql"]]
        assert len(statements) == 1, (when, way)
        return queries.captured_queries

    time_machine.move_to(clock.now() + timedelta(minutes=5), tick=False)
    for way in apps:
        assert len(check_in("on_time", way)) == 1  # the plain check-in: one round trip
    time_machine.move_to(clock.now() + timedelta(minutes=11), tick=False)
    engine.start_due()
    for way in apps:
        check_in("late", way)
        assert worlds["late", way].session.escalations.get().outcome == \
            "worker_checked_in_late"


def test_mov_02_the_lane_will_not_start_without_a_decision_on_each_middleware(settings):
    """A middleware added to the settings might add a header or a check to every answer:
    the lane refuses to start until it is listed as run or left out. So with a setting
    that makes the run middleware redirect or refuse before the view."""
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "django.middleware.gzip.GZipMiddleware"]
    with pytest.raises(ImproperlyConfigured, match="GZipMiddleware"):
        CheckInFastLane(WSGIHandler())
    settings.MIDDLEWARE = settings.MIDDLEWARE[:-1]
    settings.SECURE_SSL_REDIRECT = True
    with pytest.raises(ImproperlyConfigured, match="SECURE_SSL_REDIRECT"):
        CheckInFastLane(WSGIHandler())


@pytest.mark.skipif(connection.vendor != "postgresql",
                    reason="prepared statements are PostgreSQL's")
def test_q_perf_the_check_in_statement_is_prepared(trust, lane_and_django, time_machine):
    """Q-PERF: PostgreSQL parses and plans the check-in statement once per connection, not
    once per check-in. Check-ins with and without a position, before and after it is
    prepared, all land; Django's query log still shows the statement."""
    time_machine.move_to(T0, tick=False)
    lane = lane_and_django[0]
    w = world(trust, "prepared")
    bodies = [HERE, {}, {"note": "Still here"}, {"lat": 52.6, "lon": 0.1}] * 3
    with CaptureQueriesContext(connection) as queries:
        for body in bodies:
            time_machine.move_to(clock.now() + timedelta(minutes=1), tick=False)
            assert send(lane, w, body=body)["status"] == "200 OK"
    logged = [q["sql"] for q in queries.captured_queries if "accounts_apitoken" in q["sql"]]
    assert len(logged) == len(bodies)
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    assert any("accounts_apitoken" in sql and "visits_sessionevent" in sql for sql in prepared)
    assert w.session.events.filter(kind="checked_in").count() == len(bodies)
    assert w.session.events.filter(kind="checked_in", position__isnull=False).count() == 6
