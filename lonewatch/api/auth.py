from ninja.security import HttpBearer, SessionAuth

from lonewatch.accounts.actions import authenticate_token
from lonewatch.accounts.middleware import needs_second_factor


class BearerToken(HttpBearer):
    """``Authorization: Bearer lw_…`` with a per-device token."""

    def authenticate(self, request, token):
        user = authenticate_token(token)
        if user is None:
            return None
        request.user = user
        return user


class RawBearer(HttpBearer):
    """Takes the token without looking it up, for the check-in, which checks it itself
    (``visits.actions.do_check_in``: inside its one SQL statement on PostgreSQL, else
    with ``authenticate_token``)."""

    def authenticate(self, request, token):
        return token or None


class SignedInSession(SessionAuth):
    """The web site's own sign-in, for the few API reads a page makes itself (the
    console plays an alarm's recording through the one audited endpoint). A role that
    needs a second factor must have given it, as on every page."""

    def authenticate(self, request, key):
        user = super().authenticate(request, key)
        if user is None or needs_second_factor(user):
            return None
        return user
