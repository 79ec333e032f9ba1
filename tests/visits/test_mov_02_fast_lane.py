"""MOV-02 / Q-PERF: the WSGI fast lane answers plain check-ins like Django would,
and hands everything else to Django."""

import io
import json
from datetime import timedelta
from wsgiref.util import setup_testing_defaults

import pytest

from lonewatch import clock
from lonewatch.accounts.actions import do_create_token
from lonewatch.visits.models import SessionEvent

pytestmark = pytest.mark.django_db(transaction=True)


def call(body, *, token, session_id, method="POST", host="127.0.0.1"):
    from lonewatch.wsgi import application

    raw = json.dumps(body).encode() if not isinstance(body, bytes) else body
    environ = {"REQUEST_METHOD": method, "PATH_INFO": f"/api/v1/sessions/{session_id}/checkins",
               "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(raw)),
               "HTTP_HOST": host, "HTTP_AUTHORIZATION": f"Bearer {token}",
               "wsgi.input": io.BytesIO(raw)}
    setup_testing_defaults(environ)
    answer = {}

    def start_response(status, headers, exc_info=None):
        answer["status"], answer["headers"] = int(status.split()[0]), dict(headers)

    answer["body"] = b"".join(application(environ, start_response))
    return answer


@pytest.fixture
def nina_token(nina_ready):
    return do_create_token(nina_ready.user, name="phone", actor=nina_ready.user)[1]


def test_mov_02_fast_lane_checks_in_and_keeps_the_location(start_session, nina_token):
    session = start_session(interval=900)
    answer = call({"lat": 52.6, "lon": 0.2, "accuracy_m": 10, "note": "here"},
                  token=nina_token, session_id=session.pk)
    assert answer["status"] == 200, answer
    body = json.loads(answer["body"])
    session.refresh_from_db()
    assert body["state"] == "active" and body["id"] == session.pk
    assert body["due_at"].startswith(session.due_at.strftime("%Y-%m-%dT%H:%M"))
    assert session.due_at > clock.now() + timedelta(minutes=14)
    event = SessionEvent.objects.get(session=session, kind="checked_in")
    assert (event.lat, event.summary) == (52.6, "Checked in: here")
    assert answer["headers"]["X-Request-ID"]
    # The lane answers with Django's headers (tests/test_mov_02_check_in_paths.py compares
    # them all): not to be stored (Q-SEC), and the security headers Django adds.
    assert answer["headers"]["Cache-Control"] == "no-store, private"
    assert answer["headers"]["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize(("body", "status", "detail"), [
    ({"lat": 95, "lon": 0}, 400, "Latitude"),
    ({"lat": "north", "lon": 0}, 400, "lat"),
    ({"unexpected": 1}, 200, None),
    (b"{not json", 400, None),
])
def test_mov_02_fast_lane_hands_anything_unusual_to_django(start_session, nina_token, body,
                                                           status, detail):
    session = start_session(interval=900)
    answer = call(body, token=nina_token, session_id=session.pk)
    assert answer["status"] == status, answer
    if detail:
        assert detail in json.loads(answer["body"])["detail"]


def test_mov_02_fast_lane_refuses_bad_tokens_and_other_hosts(start_session, nina_token):
    session = start_session(interval=900)
    assert call({}, token="lw_wrong", session_id=session.pk)["status"] == 401
    assert call({}, token=nina_token, session_id=session.pk, host="evil.example")[
        "status"] == 400
    due = session.due_at
    session.refresh_from_db()
    assert session.due_at == due
