"""One transport per channel. Each sends one delivery or raises a failure that says
whether trying again could help."""

import hashlib
import hmac
import json
import logging
import smtplib
import time

import requests
from django.conf import settings
from django.core.mail import EmailMessage, get_connection

from lonewatch.notify import destinations, push
from lonewatch.notify.failures import PermanentFailure, TemporaryFailure
from lonewatch.notify.models import Channel, WebhookEndpoint

__all__ = ["PermanentFailure", "TemporaryFailure", "send", "sign"]

log = logging.getLogger("lonewatch.notify")


def send_email(delivery) -> str:
    message = EmailMessage(
        subject=delivery.subject,
        body=f"{delivery.body}\n\n{delivery.link}".strip(),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[delivery.address],
        # The same Message-ID on a retry lets mail systems drop a second copy.
        headers={"Message-ID": f"<{delivery.idempotency_key}@lonewatch>",
                 "X-Lonewatch-Delivery": str(delivery.idempotency_key)},
        connection=get_connection(fail_silently=False),
    )
    try:
        message.send()
    except smtplib.SMTPRecipientsRefused as error:
        codes = [code for code, _message in error.recipients.values()]
        if codes and all(400 <= code < 500 for code in codes):
            # 4xx: "try later" (greylisting, a full queue), not "no such person".
            raise TemporaryFailure(f"the mail server deferred {delivery.address}: "
                                   f"{error.recipients}") from None
        raise PermanentFailure(f"the mail server refused {delivery.address}: {error}") from None
    except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as error:
        if error.smtp_code >= 500:
            raise PermanentFailure(f"the mail server rejected the message: {error}") from None
        raise TemporaryFailure(f"email not sent: {error}") from None
    except (smtplib.SMTPException, OSError) as error:
        raise TemporaryFailure(f"email not sent: {error}") from None
    return f"email:{delivery.idempotency_key}"


def send_sms(delivery) -> str:
    text = f"{delivery.body} {delivery.link}".strip()
    if not settings.NOTIFY_API_KEY:
        log.info("sms (console transport)", extra={"to": delivery.address, "text": text,
                                                   "delivery": str(delivery.idempotency_key)})
        return "console"
    from notifications_python_client.errors import HTTPError  # lazy: loaded when texts go
    from notifications_python_client.notifications import (  # lazy: loaded when texts go
        NotificationsAPIClient,
    )

    client = NotificationsAPIClient(settings.NOTIFY_API_KEY, timeout=10)
    try:
        response = client.send_sms_notification(
            phone_number=delivery.address,
            template_id=settings.NOTIFY_SMS_TEMPLATE_ID,
            personalisation={"message": text},
            # Notify keeps our reference with the message; the delivery receipt names it.
            reference=str(delivery.idempotency_key),
        )
    except HTTPError as error:
        if error.status_code in (400, 403):
            raise PermanentFailure(f"GOV.UK Notify refused the text: {error.message}") from None
        raise TemporaryFailure(f"GOV.UK Notify did not take the text: {error.message}") from None
    except requests.RequestException as error:
        raise TemporaryFailure(f"GOV.UK Notify unreachable: {error}") from None
    return response["id"]


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def send_webhook(delivery) -> str:
    endpoint = WebhookEndpoint.objects.filter(url=delivery.address, active=True,
                                              organisation_id=delivery.organisation_id).first()
    if endpoint is None:
        raise PermanentFailure("the webhook was removed or switched off")
    # Q-SEC: checked again now, and sent to the address checked now (DNS rebinding).
    try:
        destination = destinations.check_webhook_url(endpoint.url)
    except destinations.LookupFailed as error:
        raise TemporaryFailure(f"webhook not sent: {error}") from None
    except destinations.RefusedDestination as error:
        raise PermanentFailure(f"webhook not sent: {error}") from None
    # What the message is about (ALM-07: the alarm and the change to it) comes first, so
    # the delivery's own fields cannot be overwritten by it.
    body = json.dumps(dict(delivery.payload or {}) | {
        "id": str(delivery.idempotency_key),
        "purpose": delivery.purpose,
        "subject": delivery.subject,
        "text": delivery.body,
        "link": delivery.link,
        "about": {"kind": delivery.about_kind, "id": delivery.about_id}
        if delivery.about_id is not None else None,
    }).encode()
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Lonewatch",
        "Idempotency-Key": str(delivery.idempotency_key),
        "X-Lonewatch-Timestamp": timestamp,
        "X-Lonewatch-Signature": sign(endpoint.secret, timestamp, body),
    }
    try:
        response = destinations.post(destination, data=body, headers=headers, timeout=10)
    except requests.RequestException as error:
        raise TemporaryFailure(f"webhook unreachable: {error}") from None
    status = response.status_code
    if 200 <= status < 300:
        return f"http:{status}"
    if 300 <= status < 400:
        # Q-SEC: a redirect could lead anywhere, so it is never followed.
        where = response.headers.get("Location", "")[:200]
        raise PermanentFailure(f"webhook answered HTTP {status}, a redirect"
                               + (f" to {where}" if where else "")
                               + ": Lonewatch does not follow redirects, so give the webhook "
                                 "its final address")
    if 400 <= status < 500 and status not in (408, 429):
        raise PermanentFailure(f"webhook refused the message: HTTP {status}")
    raise TemporaryFailure(f"webhook answered HTTP {status}")


def send_in_app(delivery) -> str:
    return "in_app"  # stored already: the recipient's pages show it


TRANSPORTS = {
    Channel.EMAIL: send_email,
    Channel.SMS: send_sms,
    Channel.WEBHOOK: send_webhook,
    Channel.IN_APP: send_in_app,
    Channel.PUSH: push.send,
}


def send(delivery) -> str:
    return TRANSPORTS[delivery.channel](delivery)
