import logging
import re
import time
from contextlib import contextmanager

from django.conf import settings
from django.utils.deprecation import MiddlewareMixin

from lonewatch.core import context

log = logging.getLogger("lonewatch.http")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def client_address(request) -> str | None:
    return client_address_in(request.META)


def client_address_in(meta) -> str | None:
    """The caller's address, from a request's ``META`` (or a WSGI environ)."""
    if settings.BEHIND_PROXY:
        forwarded = meta.get("HTTP_X_FORWARDED_FOR", "")
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-1]
    return meta.get("REMOTE_ADDR")


class RequestIdMiddleware:
    """Tag every request with an id (the caller's X-Request-ID if sane) and log it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with request_context(request.META, getattr(request, "request_id", None)) as rid:
            request.request_id = rid
            started = time.perf_counter()
            response = self.get_response(request)
            response["X-Request-ID"] = rid
            log_request(request.method, request.path, response.status_code, started,
                        user=getattr(getattr(request, "user", None), "username", None))
            return response


@contextmanager
def request_context(meta, request_id: str | None = None):
    """While a request is answered: its id and the caller's address, for log lines and
    audit rows. The id is ``request_id`` if the request already has one, else the
    caller's X-Request-ID if sane, else a new one. ``meta`` is the request's ``META`` (or
    its WSGI environ). Yields the id."""
    if request_id is None:
        incoming = meta.get("HTTP_X_REQUEST_ID", "")
        request_id = incoming if _SAFE_ID.match(incoming) else context.new_id()
    id_token = context.request_id.set(request_id)
    ip_token = context.client_ip.set(client_address_in(meta))
    try:
        yield request_id
    finally:
        context.request_id.reset(id_token)
        context.client_ip.reset(ip_token)


def log_request(method: str, path: str, status: int, started: float, *, user=None) -> None:
    """The one log line of each request."""
    if path.startswith("/static/"):
        return
    log.info("request", extra={
        "method": method,
        "path": path,
        "status": status,
        "duration_ms": round((time.perf_counter() - started) * 1000, 1),
        "user": user,
    })


class NoStoreMiddleware(MiddlewareMixin):
    """Q-SEC: what Lonewatch answers is about people (where they are, who they visit,
    their alarms), so no browser or proxy keeps a copy: a shared phone's back button
    after signing out, or a cache between the phone and the server, must not show it
    again. Every answer that does not say otherwise is ``Cache-Control: no-store,
    private``. Static files are served above this middleware (WhiteNoise) with their own
    long-lived headers; an answer that sets its own (the event streams, the service
    worker) keeps it."""

    def process_response(self, request, response):
        if not response.has_header("Cache-Control"):
            response["Cache-Control"] = "no-store, private"
        return response
