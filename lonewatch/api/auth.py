from ninja.security import HttpBearer

from lonewatch.accounts.actions import authenticate_token


class BearerToken(HttpBearer):
    """``Authorization: Bearer lw_…`` with a per-device token."""

    def authenticate(self, request, token):
        user = authenticate_token(token)
        if user is None:
            return None
        request.user = user
        return user
