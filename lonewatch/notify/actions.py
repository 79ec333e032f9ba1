"""Queue messages as delivery rows, and send the due ones (at-least-once).

Queuing happens inside the caller's transaction, so a message exists exactly when
the change that caused it commits. Sending happens outside any transaction: a row
is claimed by pushing its ``next_attempt_at`` forward by a lease, then sent, then
marked. A worker killed after claiming leaves the row to be tried again when the
lease runs out; the idempotency key goes with every attempt.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F

from lonewatch import clock
from lonewatch.escalation.models import Channel
from lonewatch.notify import transports
from lonewatch.notify.models import Delivery, WebhookEndpoint
from lonewatch.visits.models import SessionEvent
from lonewatch.worker.claim import claim

log = logging.getLogger("lonewatch.notify")

NO_ADDRESS = {
    Channel.EMAIL: "no email address recorded",
    Channel.SMS: "no mobile number recorded",
}


def _address(person, channel) -> str:
    if channel == Channel.EMAIL:
        return person.email
    if channel == Channel.SMS:
        return person.mobile
    return ""


def queue(people, channels, *, subject: str, body: str, link: str, purpose: str, organisation_id,
          session=None, escalation=None, due_at: datetime | None = None) -> list[Delivery]:
    """Create one delivery per person per channel (webhooks: one per endpoint)."""
    now = clock.now()
    due_at = due_at or now
    rows = []
    common = {"organisation_id": organisation_id, "session": session, "escalation": escalation,
              "subject": subject[:200], "body": body, "link": link, "purpose": purpose,
              "created_at": now, "due_at": due_at, "next_attempt_at": now}
    for channel in channels:
        if channel == Channel.WEBHOOK:
            for endpoint in WebhookEndpoint.objects.filter(organisation_id=organisation_id,
                                                           active=True):
                rows.append(Delivery(channel=channel, address=endpoint.url, **common))
            continue
        for person in people:
            row = Delivery(channel=channel, recipient=person, address=_address(person, channel),
                           **common)
            if channel in NO_ADDRESS and not row.address:
                # An alert that cannot be sent is shown as failed at once, so a manager
                # sees the gap instead of trusting a message that reaches nobody.
                row.status, row.next_attempt_at = Delivery.Status.FAILED, None
                row.last_error = NO_ADDRESS[channel]
            rows.append(row)
    Delivery.objects.bulk_create(rows)
    SessionEvent.objects.bulk_create(
        SessionEvent(session=session, at=now, kind=SessionEvent.Kind.DELIVERY_FAILED,
                     summary=f"{row.get_channel_display()} to {_who(row)} not possible: "
                             f"{row.last_error}"[:300])
        for row in rows if session is not None and row.status == Delivery.Status.FAILED
    )
    return rows


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(3600, 5 * 2 ** max(0, attempts - 1)))


def send_due(limit: int = 200) -> int:
    now = clock.now()
    lease = timedelta(seconds=settings.DELIVERY_LEASE_SECONDS)
    with transaction.atomic():
        ids = claim(
            Delivery.objects.filter(status=Delivery.Status.PENDING, next_attempt_at__lte=now)
            .order_by("next_attempt_at"),
            limit=limit,
            update={"next_attempt_at": now + lease, "attempts": F("attempts") + 1},
        )
    if not ids:
        return 0
    for delivery in Delivery.objects.filter(pk__in=ids).select_related("recipient"):
        _send_one(delivery)
    return len(ids)


def _send_one(delivery: Delivery) -> None:
    try:
        provider_ref = transports.send(delivery)
    except transports.PermanentFailure as error:
        _fail(delivery, str(error))
    except transports.TemporaryFailure as error:
        if delivery.attempts >= settings.DELIVERY_MAX_ATTEMPTS:
            _fail(delivery, f"gave up after {delivery.attempts} attempts: {error}")
        else:
            Delivery.objects.filter(pk=delivery.pk, status=Delivery.Status.PENDING).update(
                next_attempt_at=clock.now() + backoff(delivery.attempts),
                last_error=str(error)[:500])
            log.warning("delivery will be retried", extra={
                "delivery": delivery.pk, "channel": delivery.channel, "error": str(error),
                "attempts": delivery.attempts})
    except Exception as error:  # a bug in a transport must not stop the other deliveries
        log.exception("delivery transport crashed", extra={"delivery": delivery.pk})
        Delivery.objects.filter(pk=delivery.pk, status=Delivery.Status.PENDING).update(
            next_attempt_at=clock.now() + backoff(delivery.attempts),
            last_error=f"internal error: {error}"[:500])
    else:
        now = clock.now()
        with transaction.atomic():
            updated = Delivery.objects.filter(pk=delivery.pk, status=Delivery.Status.PENDING)\
                .update(status=Delivery.Status.SENT, sent_at=now, next_attempt_at=None,
                        provider_ref=provider_ref[:200], last_error="")
            if updated and delivery.session_id:
                SessionEvent.objects.create(
                    session_id=delivery.session_id, at=now, kind=SessionEvent.Kind.DELIVERY,
                    summary=f"{delivery.get_channel_display()} to {_who(delivery)}: "
                            f"{delivery.subject}"[:300],
                    data={"delivery": delivery.pk, "attempts": delivery.attempts,
                          "late_seconds": round((now - delivery.due_at).total_seconds(), 1)})


def _who(delivery) -> str:
    return delivery.recipient.full_name if delivery.recipient else delivery.address


def _fail(delivery: Delivery, reason: str) -> None:
    now = clock.now()
    with transaction.atomic():
        updated = Delivery.objects.filter(pk=delivery.pk, status=Delivery.Status.PENDING).update(
            status=Delivery.Status.FAILED, next_attempt_at=None, last_error=reason[:500])
        if updated and delivery.session_id:
            SessionEvent.objects.create(
                session_id=delivery.session_id, at=now, kind=SessionEvent.Kind.DELIVERY_FAILED,
                summary=f"{delivery.get_channel_display()} to {_who(delivery)} failed: "
                        f"{reason}"[:300],
                data={"delivery": delivery.pk})
    log.warning("delivery failed", extra={"delivery": delivery.pk, "reason": reason})
