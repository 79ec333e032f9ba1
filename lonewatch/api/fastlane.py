"""The check-in fast lane: API check-ins answered before Django's middleware stack and
URL routing (MOV-02, Q-PERF).

A check-in is the request Lonewatch answers most often. Measured on a 2-core machine,
Django's request stack around it cost more than the check-in itself (one SQL statement
on PostgreSQL). The lane takes ``POST /api/v1/sessions/<id>/checkins`` and only routes:
it reads the bearer token and the JSON body as the API's check-in view reads them,
calls the view's own ``check_in_answer`` (which calls ``visits.actions.do_check_in``,
the one implementation of a check-in) and renders the answer with the API's renderer.
It decides nothing about a check-in.

What the lane does not read plainly goes to Django untouched: no bearer token, a body
that is not plainly a check-in (the view's schema then decides), a host Django must
judge, any other path or method. A check-in that is refused (401, 403, 404, 400) has
already run, so it is not run again: the API's exception handlers render the refusal
behind the middleware below, as Django would.

Every middleware in ``settings.MIDDLEWARE`` is listed here, as run or as left out with
the reason; a new one stops the lane from starting until someone decides. The headers
of the lane's own answer are those the run middleware give a JSON answer, found once at
start by running them on a sample answer over HTTP and over HTTPS; the request id and
the length are the answer's own. tests/test_mov_02_check_in_paths.py sends every kind
of check-in through the lane and through Django and compares status, headers, body and
rows.

The lane runs on SQLite as on PostgreSQL. On SQLite the check-in is the ordinary
transaction (the one-statement form is PostgreSQL's); the lane still saves Django's
request stack.
"""

import io
import json
import re
import time

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIRequest, get_script_name
from django.db import close_old_connections
from django.http import HttpResponse
from django.http.request import split_domain_port, validate_host
from django.urls import set_urlconf
from django.utils.log import log_response
from django.utils.module_loading import import_string

from lonewatch.api.sessions import CheckInIn, check_in_answer
from lonewatch.api.urls import api
from lonewatch.core.middleware import log_request, request_context

# Django's own route for the view is ``<int:session_id>``: ASCII digits only.
PATH = re.compile(r"^/api/v1/sessions/([0-9]+)/checkins$")
MAX_BODY = 4096  # a check-in's body is a few dozen bytes; a larger one goes to Django

# Run by the lane: the request id and log line (``request_context``, ``log_request``),
# the host check (``get_host``), and the headers the others add to a JSON answer, which
# must depend on nothing but the scheme (the lane finds them once).
RUN = {
    "lonewatch.core.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "lonewatch.core.middleware.NoStoreMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
}
# Left out, and why a check-in does not need them.
LEFT_OUT = {
    "whitenoise.middleware.WhiteNoiseMiddleware": "serves static files only",
    "django.contrib.sessions.middleware.SessionMiddleware":
        "a check-in is signed with a bearer token, never a session cookie",
    "django.middleware.csrf.CsrfViewMiddleware":
        "API views are exempt: a bearer token cannot be sent by another site's form",
    "django.contrib.auth.middleware.AuthenticationMiddleware":
        "the cookie sign-in; the check-in reads its own token",
    "django_otp.middleware.OTPMiddleware": "the second factor of the cookie sign-in",
    "django.contrib.messages.middleware.MessageMiddleware": "messages for web pages",
    "lonewatch.accounts.middleware.LoginRequiredMiddleware":
        "leaves /api/ to the API's own authentication",
    "axes.middleware.AxesMiddleware": "locks out password sign-ins, not tokens",
}


# Settings under which the run middleware would do more before the view than check the
# host: redirect to HTTPS or to www., refuse some browsers.
REDIRECTS_OR_REFUSES = ["SECURE_SSL_REDIRECT", "PREPEND_WWW", "DISALLOWED_USER_AGENTS"]


def answer_middleware() -> list[str]:
    """The middleware the lane runs, in the order of ``settings.MIDDLEWARE``."""
    undecided = [m for m in settings.MIDDLEWARE if m not in RUN and m not in LEFT_OUT]
    if undecided:
        raise ImproperlyConfigured(
            f"The check-in fast lane does not know the middleware {', '.join(undecided)}: "
            "list each in lonewatch/api/fastlane.py as run or left out, with the reason.")
    return [m for m in settings.MIDDLEWARE if m in RUN]


# The check-in view's body schema (``CheckInIn``), as the plain JSON the lane reads
# itself: numbers for the position, text for the note. Anything else in a body (other
# fields, numbers written as text) goes to Django, which reads it with the schema.
NUMBERS = ("lat", "lon", "accuracy_m")
TEXT = ("note",)


def _payload(body: bytes) -> CheckInIn | None:
    """The body as the check-in view reads it, if it is plainly a check-in; else None."""
    try:
        data = json.loads(body)
        if not isinstance(data, dict) or not data.keys() <= {*NUMBERS, *TEXT} \
                or any(type(data.get(key, "")) is not str for key in TEXT) \
                or any(data.get(key) is not None and type(data[key]) not in (int, float)
                       for key in NUMBERS):
            return None
        numbers = {key: None if data.get(key) is None else float(data[key])
                   for key in NUMBERS}
        # The schema's own bounds decide, as for the view: a position out of them goes
        # to Django, whose answer names the schema's refusal.
        return CheckInIn.model_validate(numbers | {"note": data.get("note", "")})
    except (ValueError, OverflowError):  # pydantic's ValidationError is a ValueError
        return None


def _length(environ) -> int | None:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    return length if 0 < length <= MAX_BODY else None


def _bearer(environ) -> str | None:
    """The token, read as the view's ``RawBearer`` reads it (ninja's ``HttpBearer``), or
    None if it would find none."""
    scheme, _, token = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
    return token if scheme.lower() == "bearer" and token else None


def _host_served(environ) -> bool:
    """Django's ``get_host`` check for a request that names its host plainly: anything
    less plain goes to Django, which decides."""
    if settings.USE_X_FORWARDED_HOST and "HTTP_X_FORWARDED_HOST" in environ:
        return False
    domain, _port = split_domain_port(environ.get("HTTP_HOST", ""))
    return bool(domain) and validate_host(domain, settings.ALLOWED_HOSTS)


def _secure(environ) -> bool:
    """``HttpRequest.is_secure()``, from the environ."""
    if settings.SECURE_PROXY_SSL_HEADER:
        header, secure_value = settings.SECURE_PROXY_SSL_HEADER
        value = environ.get(header)
        if value is not None:
            return value.split(",", 1)[0].strip() == secure_value
    return environ.get("wsgi.url_scheme") == "https"


class CheckInFastLane:
    def __init__(self, django_application):
        self.django_application = django_application
        self.middleware_paths = answer_middleware()
        for setting in REDIRECTS_OR_REFUSES:
            if getattr(settings, setting):
                raise ImproperlyConfigured(
                    f"The check-in fast lane does not do what {setting} asks of Django: "
                    "teach it (lonewatch/api/fastlane.py) before setting it.")
        self.answer_headers = {secure: self._headers_of_an_answer(secure)
                               for secure in (False, True)}
        if set(CheckInIn.model_fields) != {*NUMBERS, *TEXT}:
            raise ImproperlyConfigured("The check-in's body has changed: teach the fast lane "
                                       "(lonewatch/api/fastlane.py) its fields.")

    def __call__(self, environ, start_response):
        match = PATH.match(environ.get("PATH_INFO", ""))
        if match is None or environ.get("REQUEST_METHOD") != "POST":
            return self.django_application(environ, start_response)
        token, length = _bearer(environ), _length(environ)
        if token is None or length is None or not _host_served(environ):
            return self.django_application(environ, start_response)
        body = environ["wsgi.input"].read(length)
        environ["wsgi.input"] = io.BytesIO(body)  # for Django, which reads it again
        payload = _payload(body)
        if payload is None:
            return self.django_application(environ, start_response)
        close_old_connections()  # what Django does at the start and end of every request
        try:
            status, headers, answer = self._answer(environ, int(match.group(1)), token,
                                                   payload)
        finally:
            close_old_connections()
        start_response(status, headers)
        return [answer]

    def _answer(self, environ, session_id: int, token: str,
                payload: CheckInIn) -> tuple[str, list, bytes]:
        with request_context(environ) as request_id:
            started = time.perf_counter()
            try:
                answer = check_in_answer(token, session_id, payload)
            except Exception as error:  # noqa: BLE001 - the API's handlers decide, or re-raise
                refusal = error
            else:
                body = api.renderer.render(None, answer, response_status=200).encode()
                headers = [(name, str(len(body)) if name == "Content-Length" else value)
                           for name, value in self.answer_headers[_secure(environ)]]
                path = get_script_name(environ).rstrip("/") + environ["PATH_INFO"]
                log_request("POST", path, 200, started)
                return "200 OK", [*headers, ("X-Request-ID", request_id)], body
        # Refused: the check-in has run, so it is not run again; the API's handlers render
        # the refusal behind the middleware, with the same request id.
        request = WSGIRequest(environ)
        request.request_id = request_id
        return self._through_middleware(request,
                                        lambda request: api.on_exception(request, refusal))

    def _through_middleware(self, request, view) -> tuple[str, list, bytes]:
        """``view``'s answer behind the run middleware, as Django's handler gives it."""
        handler = convert_exception_to_response(view)
        for path in reversed(self.middleware_paths):
            handler = convert_exception_to_response(import_string(path)(handler))
        set_urlconf(settings.ROOT_URLCONF)
        response = handler(request)
        if response.status_code >= 400:  # as Django's handler logs them
            log_response("%s: %s", response.reason_phrase, request.path, response=response,
                         request=request)
        status, headers, body = (f"{response.status_code} {response.reason_phrase}",
                                 list(response.items()), response.content)
        response.close()
        return status, headers, body

    def _headers_of_an_answer(self, secure: bool) -> list[tuple[str, str]]:
        """The headers the run middleware give a JSON answer, over HTTPS or not, without
        its request id (``Content-Length`` is filled in per answer)."""
        environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/api/v1/sessions/1/checkins",
                   "wsgi.input": io.BytesIO(), "wsgi.url_scheme": "https" if secure else "http"}
        if settings.SECURE_PROXY_SSL_HEADER:
            header, value = settings.SECURE_PROXY_SSL_HEADER
            environ[header] = value if secure else "http"
        request = WSGIRequest(environ)
        if request.is_secure() != secure or _secure(environ) != secure:
            raise ImproperlyConfigured("The fast lane cannot tell HTTPS as Django does.")
        response = HttpResponse(b"", content_type=api.get_content_type())
        for path in reversed(self.middleware_paths):
            middleware = import_string(path)(_unused)
            if hasattr(middleware, "process_response"):
                response = middleware.process_response(request, response)
        return list(response.items())


def _unused(request):
    raise AssertionError("only the middleware's process_response is called here")
