"""State changes to logins and tokens. Each owns its transaction and audit row."""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from lonewatch import clock
from lonewatch.accounts.models import ApiToken, User, digest
from lonewatch.core import audit, permissions

# Writing last_used_at on every request would turn each API read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class TokenError(ValueError):
    """A token that cannot be made as asked: the message says why."""


def do_create_token(user: User, *, name: str, actor,
                    privileged: bool = False) -> tuple[ApiToken, str]:
    """Create a token for ``user``; return it and the raw value, which is never stored.

    Q-SEC: ``privileged`` lets the token act with the owner's privileged roles. The
    caller asks for it only after the second factor (the profile page) or on an
    administrator's explicit request (``lonewatch token create --privileged``). Such a
    token expires after ``PRIVILEGED_TOKEN_DAYS``."""
    name = name.strip() or "API token"
    person = getattr(user, "person", None)
    if privileged and (person is None or not person.roles.filter(
            role__in=permissions.PRIVILEGED_ROLES).exists()):
        raise TokenError(f"{user.username} holds no privileged role: an ordinary token "
                         "already gives them every right they have.")
    raw = ApiToken.generate()
    now = clock.now()
    expires_at = now + timedelta(days=settings.PRIVILEGED_TOKEN_DAYS) if privileged else None
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user, name=name[:100], prefix=raw[:10], digest=digest(raw),
            created_at=now, privileged=privileged, expires_at=expires_at,
        )
        audit.record("token.create", actor=actor, obj=token,
                     summary=f"{'Privileged' if privileged else 'API'} token '{token.name}' "
                             f"for {user.username}",
                     after={"user": user.username, "name": token.name, "prefix": token.prefix,
                            "privileged": privileged, "expires_at": expires_at})
    return token, raw


def do_revoke_token(token: ApiToken, *, actor) -> None:
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().get(pk=token.pk)
        if token.revoked_at is not None:
            return
        token.revoked_at = clock.now()
        token.save(update_fields=["revoked_at"])
        audit.record("token.revoke", actor=actor, obj=token,
                     summary=f"API token '{token.name}' of {token.user.username} revoked")


def authenticate_token(raw: str) -> User | None:
    """The active user behind a live bearer token (not revoked, not expired), or None."""
    if not raw.startswith("lw_"):
        return None
    now = clock.now()
    token = (
        ApiToken.objects.select_related("user")
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now), digest=digest(raw),
                revoked_at__isnull=True)
        .first()
    )
    if token is None or not token.user.is_active:
        return None
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    user = token.user
    user.api_token = token
    # Q-SEC: the one place a token's reach is decided. Without the second factor behind
    # it, the token's requests see none of the owner's privileged roles
    # (core.permissions.memberships).
    user.privileged_roles_withheld = not token.privileged
    return user
