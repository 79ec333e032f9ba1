import logging
import re
import time

from django.conf import settings

from lonewatch.core import context

log = logging.getLogger("lonewatch.http")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def client_address(request) -> str | None:
    if settings.BEHIND_PROXY:
        forwarded = request.headers.get("X-Forwarded-For", "")
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-1]
    return request.META.get("REMOTE_ADDR")


class RequestIdMiddleware:
    """Tag every request with an id (the caller's X-Request-ID if sane) and log it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        rid = incoming if _SAFE_ID.match(incoming) else context.new_id()
        rid_token = context.request_id.set(rid)
        ip_token = context.client_ip.set(client_address(request))
        request.request_id = rid
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            response["X-Request-ID"] = rid
            if not request.path.startswith("/static/"):
                log.info(
                    "request",
                    extra={
                        "method": request.method,
                        "path": request.path,
                        "status": response.status_code,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                        "user": getattr(getattr(request, "user", None), "username", None),
                    },
                )
            return response
        finally:
            context.request_id.reset(rid_token)
            context.client_ip.reset(ip_token)
