"""Web push to the installable Lonewatch pages on a worker's or buddy's phone.

The VAPID key pair identifies this server to the browsers' push services. It is
made on first use and kept in the data directory.
"""

import base64
import json
import logging
import os
from functools import cache

from cryptography.hazmat.primitives import serialization
from django.conf import settings
from py_vapid import Vapid01

from lonewatch import clock
from lonewatch.notify.failures import PermanentFailure, TemporaryFailure

log = logging.getLogger("lonewatch.notify")


def _key_file():
    return settings.DATA_DIR / "vapid_private.pem"


def ensure_keys() -> Vapid01:
    """The key pair, made on first use. Several processes may race to make it: each
    writes its own file and links it into place; the first link wins, and every
    process then reads the winner's key."""
    path = _key_file()
    if not path.exists():
        vapid = Vapid01()
        vapid.generate_keys()
        draft = path.with_name(f".vapid-{os.getpid()}.pem")
        vapid.save_key(str(draft))
        draft.chmod(0o600)
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink(missing_ok=True)
    return Vapid01.from_file(str(path))


@cache
def public_key() -> str:
    """The application server key the browser needs to subscribe (base64url, raw point)."""
    raw = ensure_keys().public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def send(delivery) -> str:
    from pywebpush import WebPushException, webpush

    from lonewatch.notify.models import PushSubscription

    subscriptions = list(PushSubscription.objects.filter(person_id=delivery.recipient_id))
    if not subscriptions:
        raise PermanentFailure("no phone has turned on notifications for this person")
    ensure_keys()
    payload = json.dumps({"title": delivery.subject, "body": delivery.body,
                          "url": delivery.link, "tag": str(delivery.idempotency_key)})
    sent, errors = 0, []
    for subscription in subscriptions:
        try:
            webpush(
                subscription_info={"endpoint": subscription.endpoint,
                                   "keys": {"p256dh": subscription.p256dh,
                                            "auth": subscription.auth}},
                data=payload,
                vapid_private_key=str(_key_file()),
                vapid_claims={"sub": f"mailto:{settings.DEFAULT_FROM_EMAIL_ADDRESS}"},
                ttl=3600,
                timeout=10,
            )
        except WebPushException as error:
            status = getattr(error.response, "status_code", None)
            if status in (404, 410):
                # The browser dropped this subscription: forget it.
                subscription.delete()
                errors.append("a phone's subscription has expired")
                continue
            errors.append(str(error)[:200])
            continue
        sent += 1
        subscription.last_success_at = clock.now()
        subscription.save(update_fields=["last_success_at"])
    if sent:
        return f"push:{sent}"
    if all("expired" in e for e in errors):
        raise PermanentFailure("every phone's notification subscription has expired")
    raise TemporaryFailure("; ".join(errors))
