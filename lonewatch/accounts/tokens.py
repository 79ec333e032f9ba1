"""The tokens in set-password links (ORG-06).

A reset link carries a token from Django's default generator and works for
``PASSWORD_RESET_TIMEOUT``. An invitation's carries one from ``invitation_tokens``
and works for ``INVITATION_TIMEOUT``: the same kind of token, with its own salt, so
one cannot pass for the other. Both are made from the account's password hash and
last sign-in, so a link stops working once it has been used to set a password.
"""

from django.conf import settings
from django.contrib.auth.tokens import PasswordResetTokenGenerator, default_token_generator
from django.utils.crypto import constant_time_compare
from django.utils.http import base36_to_int


class InvitationTokenGenerator(PasswordResetTokenGenerator):
    key_salt = "lonewatch.accounts.tokens.InvitationTokenGenerator"

    def check_token(self, user, token) -> bool:
        # As Django's check, with the invitation's lifetime instead of a reset's.
        if not (user and token):
            return False
        try:
            stamp, _ = token.split("-")
            made = base36_to_int(stamp)
        except ValueError:
            return False
        if self._num_seconds(self._now()) - made > settings.INVITATION_TIMEOUT:
            return False
        return any(
            constant_time_compare(self._make_token_with_timestamp(user, made, secret), token)
            for secret in [self.secret, *self.secret_fallbacks]
        )


invitation_tokens = InvitationTokenGenerator()
reset_tokens = default_token_generator


class SetPasswordLinks:
    """What the set-password page accepts: a reset link's token or an invitation's."""

    def check_token(self, user, token) -> bool:
        return reset_tokens.check_token(user, token) or invitation_tokens.check_token(
            user, token)


set_password_links = SetPasswordLinks()
