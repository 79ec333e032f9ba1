"""State changes to logins and tokens. Each owns its transaction and audit row."""

from datetime import timedelta

from django.db import transaction

from lonewatch import clock
from lonewatch.accounts.models import ApiToken, User, digest
from lonewatch.core import audit

# Writing last_used_at on every request would turn each API read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def do_create_token(user: User, *, name: str, actor) -> tuple[ApiToken, str]:
    """Create a token for ``user``; return it and the raw value, which is never stored."""
    name = name.strip() or "API token"
    raw = ApiToken.generate()
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user, name=name[:100], prefix=raw[:10], digest=digest(raw),
            created_at=clock.now(),
        )
        audit.record("token.create", actor=actor, obj=token,
                     summary=f"API token '{token.name}' for {user.username}",
                     after={"user": user.username, "name": token.name, "prefix": token.prefix})
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
    """The active user behind a bearer token, or None."""
    if not raw.startswith("lw_"):
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(digest=digest(raw), revoked_at__isnull=True)
        .first()
    )
    if token is None or not token.user.is_active:
        return None
    now = clock.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    token.user.api_token = token
    return token.user
