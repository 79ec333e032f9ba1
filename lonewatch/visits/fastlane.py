"""The check-in fast lane: API check-ins answered before Django's request stack.

A check-in is the request Lonewatch answers most often. On PostgreSQL it is one SQL
statement (see fastpath); measured on a 2-core machine, the middleware, routing
and validation around that statement cost more than the statement itself. This
WSGI wrapper answers the plain case (POST /api/v1/sessions/<id>/checkins with a
bearer token and a small JSON body, for an active session of the token's owner)
directly, and hands everything else — and anything it is unsure of — to Django
untouched, so every error and edge case keeps its one implementation.
"""

import io
import json
import logging
import re
import time

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import DatabaseError, close_old_connections, connection
from django.http.request import split_domain_port, validate_host

from lonewatch.core import context
from lonewatch.visits import fastpath

log = logging.getLogger("lonewatch.http")
PATH = re.compile(r"^/api/v1/sessions/(\d{1,18})/checkins$")
FIELDS = {"lat", "lon", "accuracy_m", "note"}
MAX_BODY = 4096
SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def _payload(body: bytes) -> dict | None:
    """The check-in fields if the body is plainly valid, else None (Django decides)."""
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        return None
    if not isinstance(data, dict) or set(data) - FIELDS:
        return None
    for key in ("lat", "lon", "accuracy_m"):
        value = data.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            return None
    note = data.get("note", "")
    if not isinstance(note, str):
        return None
    return {"lat": data.get("lat"), "lon": data.get("lon"),
            "accuracy_m": data.get("accuracy_m"), "note": note[:300]}


class CheckInFastLane:
    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        match = PATH.match(environ.get("PATH_INFO", ""))
        if match is None or environ.get("REQUEST_METHOD") != "POST":
            return self.app(environ, start_response)
        started = time.perf_counter()
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return self.app(environ, start_response)
        if length > MAX_BODY:
            return self.app(environ, start_response)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)  # Django can read it again if it must
        auth = environ.get("HTTP_AUTHORIZATION", "")
        host, _port = split_domain_port(environ.get("HTTP_HOST", ""))
        payload = _payload(body)
        if (payload is None or not auth.startswith("Bearer ")
                or not validate_host(host, settings.ALLOWED_HOSTS)):
            return self.app(environ, start_response)
        incoming = environ.get("HTTP_X_REQUEST_ID", "")
        rid = incoming if SAFE_ID.match(incoming) else context.new_id()
        token = context.request_id.set(rid)
        close_old_connections()
        try:
            if connection.vendor != "postgresql":
                return self.app(environ, start_response)
            try:
                due_at = fastpath.check_in(auth.removeprefix("Bearer ").strip(),
                                           int(match.group(1)), **payload)
            except DatabaseError:
                connection.close()
                due_at = None
            if due_at is None:
                return self.app(environ, start_response)
            answer = json.dumps({"id": int(match.group(1)), "state": "active",
                                 "due_at": due_at}, cls=DjangoJSONEncoder).encode()
            start_response("200 OK", [
                ("Content-Type", "application/json; charset=utf-8"),
                ("Content-Length", str(len(answer))),
                ("X-Request-ID", rid),
                ("X-Content-Type-Options", "nosniff"),
                ("Referrer-Policy", "same-origin"),
                ("Cache-Control", "no-store"),
            ])
            log.info("request", extra={
                "method": "POST", "path": environ["PATH_INFO"], "status": 200,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                "fast_lane": True})
            return [answer]
        finally:
            close_old_connections()
            context.request_id.reset(token)
