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


class RawBearer(HttpBearer):
    """Takes the token without looking it up, for the check-in hot path, which checks
    it inside its one SQL statement and falls back to ``authenticate_token``."""

    def authenticate(self, request, token):
        return token or None
