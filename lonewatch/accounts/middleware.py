from urllib.parse import urlencode

from django.conf import settings
from django.shortcuts import redirect

from lonewatch.org.roles import is_privileged


class LoginRequiredMiddleware:
    """Deny by default: every page needs a login, and privileged roles a second factor.

    Views opt out with ``django.contrib.auth.decorators.login_not_required``
    (login, health). The JSON API authenticates each call itself and answers
    401/403 in JSON, so it is left to its own checks.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.path.startswith("/api/") or not getattr(view_func, "login_required", True):
            return None
        user = request.user
        if not user.is_authenticated:
            query = urlencode({"next": request.get_full_path()})
            return redirect(f"{settings.LOGIN_URL_PATH}?{query}")
        if getattr(view_func, "second_factor_exempt", False):
            return None
        if needs_second_factor(user):
            return redirect("two_factor")
        return None


def needs_second_factor(user) -> bool:
    return (
        settings.REQUIRE_TWO_FACTOR
        and is_privileged(user)
        and not user.is_verified()
    )


def second_factor_exempt(view):
    view.second_factor_exempt = True
    return view
