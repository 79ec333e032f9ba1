"""The versioned JSON API: bearer tokens, JSON errors, schema at /api/openapi.json."""

from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from lonewatch.api.alarms import router as alarms_router
from lonewatch.api.auth import BearerToken
from lonewatch.api.people import router as people_router
from lonewatch.api.sessions import router as sessions_router

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
api.add_router("/v1", alarms_router)


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


@api.exception_handler(HttpError)
def http_error(request, exc):
    return api.create_response(request, {"detail": exc.message}, status=exc.status_code)


@api.exception_handler(ValidationError)
def invalid(request, exc):
    problems = []
    for error in exc.errors:
        where = ".".join(str(p) for p in error.get("loc", ()) if p not in ("body", "payload"))
        problems.append(f"{where}: {error.get('msg', 'invalid')}" if where else error.get("msg"))
    return api.create_response(
        request, {"detail": "The request is not valid: " + "; ".join(problems),
                  "errors": exc.errors}, status=400,
    )


@login_not_required
def unknown_endpoint(request, rest=""):
    return JsonResponse({"detail": f"There is no API endpoint at {request.path}. "
                                   "See /api/docs for the ones there are."}, status=404)
