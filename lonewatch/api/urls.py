"""The versioned JSON API: bearer tokens, JSON errors, schema at /api/openapi.json."""

import re

from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404, JsonResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from lonewatch.api.alarms import router as alarms_router
from lonewatch.api.auth import BearerToken
from lonewatch.api.escalations import router as escalations_router
from lonewatch.api.governance import router as governance_router
from lonewatch.api.markers import router as markers_router
from lonewatch.api.people import router as people_router
from lonewatch.api.policies import router as policies_router
from lonewatch.api.recordings import router as recordings_router
from lonewatch.api.register import router as register_router
from lonewatch.api.sessions import router as sessions_router
from lonewatch.api.sops import router as sops_router
from lonewatch.api.visits import router as visits_router

api = NinjaAPI(
    title="Lonewatch API",
    version="1",
    description=(
        "Lone-worker safety: people, teams, sessions, check-ins, escalations and alarms. "
        "Authenticate with `Authorization: Bearer <token>`; create a token on your profile "
        "page or with `lonewatch token create USERNAME`. Errors are JSON: `{\"detail\": …}`."
    ),
    auth=BearerToken(),
    urls_namespace="api",
    openapi_url="/openapi.json",
    docs_url="/docs",
)
api.add_router("/v1", people_router)
api.add_router("/v1", sessions_router)
api.add_router("/v1", escalations_router)
api.add_router("/v1", policies_router)
api.add_router("/v1", alarms_router)
api.add_router("/v1", recordings_router)
api.add_router("/v1", markers_router)
api.add_router("/v1", visits_router)
api.add_router("/v1", register_router)
api.add_router("/v1", governance_router)
api.add_router("/v1", sops_router)


@api.exception_handler(AuthenticationError)
def unauthenticated(request, exc):
    response = api.create_response(
        request, {"detail": "Sign in with a valid API token: Authorization: Bearer <token>."},
        status=401,
    )
    response["WWW-Authenticate"] = 'Bearer realm="lonewatch"'
    return response


@api.exception_handler(PermissionDenied)
def forbidden(request, exc):
    return api.create_response(
        request, {"detail": str(exc) or "You do not have permission to do that."}, status=403
    )


@api.exception_handler(Http404)
def not_found(request, exc):
    return api.create_response(request, {"detail": str(exc) or "Not found."}, status=404)


@api.exception_handler(RequestDataTooBig)
def too_big(request, exc):
    return api.create_response(
        request, {"detail": "The request is too large. Send it in smaller parts."}, status=413)


@api.exception_handler(HttpError)
def http_error(request, exc):
    return api.create_response(request, getattr(exc, "body", None) or {"detail": exc.message},
                               status=exc.status_code)


# The parts of a request a problem can be in; the field's name then says where.
_PARTS = {"body", "query", "path", "header", "cookie", "form", "file"}
_LIMITS = {"greater_than_equal": "at least", "less_than_equal": "at most",
           "greater_than": "more than", "less_than": "less than"}


def _problem(error: dict) -> str:
    """One problem with a request, in words a person can act on."""
    loc = list(error.get("loc", ()))
    if loc[:1] and loc[0] in _PARTS:
        loc = loc[1:]
    if loc[:1] == ["payload"]:  # ninja's name for the whole body
        loc = loc[1:]
    where = ".".join(str(part) for part in loc)
    kind, ctx, msg = error.get("type", ""), error.get("ctx") or {}, error.get("msg", "invalid")
    if kind == "value_error" and ctx.get("error"):
        return str(ctx["error"])  # an action's own check: its words say where
    if not where:
        return msg
    if kind in ("literal_error", "enum"):
        choices = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        return f"{where} must be one of {', '.join(choices)}"
    if kind == "missing":
        return f"{where} is required"
    if kind in _LIMITS:
        return f"{where} must be {_LIMITS[kind]} {next(iter(ctx.values()))}"
    if kind == "string_too_long" or (kind == "too_long" and ctx.get("field_type") != "List"):
        return f"{where} can be at most {ctx['max_length']} characters long"
    if kind in ("too_short", "too_long"):
        count = ctx["min_length"] if kind == "too_short" else ctx["max_length"]
        return (f"{where} needs at {'least' if kind == 'too_short' else 'most'} {count} "
                f"{'item' if count == 1 else 'items'}")
    return f"{where}: {msg}"


@api.exception_handler(ValidationError)
def invalid(request, exc):
    """400 with each problem in words (``detail``) and as data (``errors``)."""
    problems = list(dict.fromkeys(_problem(error) for error in exc.errors))
    return api.create_response(
        request, {"detail": "The request is not valid: " + "; ".join(problems),
                  "errors": exc.errors}, status=400,
    )


@login_not_required
def unknown_endpoint(request, rest=""):
    return JsonResponse({"detail": f"There is no API endpoint at {request.path}. "
                                   "See /api/docs for the ones there are."}, status=404)
