"""Web push to the installable Lonewatch pages on a worker's or buddy's phone.

The VAPID key pair identifies this server to the browsers' push services. It is
made on first use and kept in the data directory.
"""

import base64
import json
import logging
import os
from functools import cache

import requests
from cryptography.hazmat.primitives import serialization
from django.conf import settings
from py_vapid import Vapid01

from lonewatch import clock
from lonewatch.notify import destinations
from lonewatch.notify.failures import PermanentFailure, TemporaryFailure
from lonewatch.notify.models import PushSubscription

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
    """Send to every phone the person has turned notifications on for.

    One dead phone must not keep the message from the others: each is tried in turn.
    The message counts as sent if any phone's push service took it. If none did, it is
    tried again when some failure may pass, and fails for good when none can."""
    subscriptions = list(PushSubscription.objects.filter(person_id=delivery.recipient_id)
                         .order_by("pk"))
    if not subscriptions:
        raise PermanentFailure("no phone has turned on notifications for this person")
    ensure_keys()
    payload = json.dumps({"title": delivery.subject, "body": delivery.body,
                          "url": delivery.link, "tag": str(delivery.idempotency_key)})
    sent, passing, lasting = 0, [], []
    for subscription in subscriptions:
        try:
            _send_to_phone(subscription, payload)
        except TemporaryFailure as error:
            passing.append(str(error))
            continue
        except PermanentFailure as error:
            lasting.append(str(error))
            continue
        except Exception as error:  # a bug or a broken subscription: the others still go
            log.exception("push to one phone crashed", extra={
                "delivery": delivery.pk, "subscription": subscription.pk})
            passing.append(f"internal error: {error}"[:200])
            continue
        sent += 1
        subscription.last_success_at = clock.now()
        subscription.save(update_fields=["last_success_at"])
    if sent:
        return f"push:{sent}"
    if passing:
        raise TemporaryFailure("; ".join(passing + lasting))
    raise PermanentFailure("; ".join(lasting))


def _send_to_phone(subscription: PushSubscription, payload: str) -> None:
    # pywebpush brings aiohttp, a quarter of a second to load: only the worker needs it.
    from pywebpush import WebPushException, webpush  # lazy: see above

    # Q-SEC: the endpoint came from a browser; it is checked again now, and the request
    # goes to the address checked now, never following a redirect.
    try:
        destination = destinations.check_push_endpoint(subscription.endpoint)
    except destinations.LookupFailed as error:
        raise TemporaryFailure(f"a phone's push service: {error}") from None
    except destinations.RefusedDestination as error:
        raise PermanentFailure(f"a phone's push address is refused: {error}") from None
    with destinations.session_for(destination) as session:
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
                requests_session=session,
            )
        except WebPushException as error:
            status = getattr(error.response, "status_code", None)
            if status in (404, 410):
                # The browser dropped this subscription: forget it.
                subscription.delete()
                raise PermanentFailure("a phone's subscription has expired") from None
            if status is not None and 300 <= status < 500 and status not in (408, 429):
                # A redirect (never followed) or a refusal: the same again would fail too.
                raise PermanentFailure(f"a phone's push service refused: HTTP {status}"
                                       ) from None
            raise TemporaryFailure(f"a phone's push service: {str(error)[:200]}") from None
        except requests.RequestException as error:
            raise TemporaryFailure(f"a phone's push service is unreachable: {error}"[:300]
                                   ) from None
