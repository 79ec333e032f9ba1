"""Queue messages as delivery rows, and send the due ones (at-least-once).

Queuing happens inside the caller's transaction, so a message exists exactly when
the change that caused it commits. Sending happens outside any transaction: a row
is claimed by pushing its ``next_attempt_at`` forward by a lease, then sent, then
marked. A worker killed after claiming leaves the row to be tried again when the
lease runs out; the idempotency key goes with every attempt.
"""

import logging
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F

from lonewatch import clock
from lonewatch.core import bulk
from lonewatch.escalation.models import Channel
from lonewatch.notify import transports
from lonewatch.notify.models import Delivery, WebhookEndpoint
from lonewatch.visits.models import SessionEvent
from lonewatch.worker.claim import claim

log = logging.getLogger("lonewatch.notify")

SEND_BUDGET_SECONDS = 5
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


class Outbox:
    """Deliveries, and their lines on the timeline, gathered inside one transaction and
    written together: a batch of escalation steps costs a few statements, not a few
    per message."""

    def __init__(self):
        self.deliveries: list[Delivery] = []
        self.events: list[SessionEvent] = []

    def add(self, people, channels, *, subject: str, body: str, link: str, purpose: str,
            organisation_id, session=None, escalation=None,
            due_at: datetime | None = None) -> list[Delivery]:
        """One delivery per person per channel (webhooks: one per endpoint)."""
        now = clock.now()
        common = {"organisation_id": organisation_id, "session": session,
                  "escalation": escalation, "subject": subject[:200], "body": body,
                  "link": link, "purpose": purpose, "created_at": now,
                  "due_at": due_at or now, "next_attempt_at": now}
        rows = []
        for channel in channels:
            if channel == Channel.WEBHOOK:
                rows += [Delivery(channel=channel, address=endpoint.url, **common)
                         for endpoint in WebhookEndpoint.objects.filter(
                             organisation_id=organisation_id, active=True)]
                continue
            for person in people:
                row = Delivery(channel=channel, recipient=person,
                               address=_address(person, channel), **common)
                if channel == Channel.IN_APP:
                    # Stored is delivered: the person's pages show it from now on.
                    row.status, row.sent_at, row.next_attempt_at = Delivery.Status.SENT, now, None
                    row.provider_ref = "in_app"
                    self._event(row, SessionEvent.Kind.DELIVERY,
                                f"{row.get_channel_display()} to {_who(row)}: {row.subject}")
                elif channel in NO_ADDRESS and not row.address:
                    # An alert that cannot be sent is shown as failed at once, so a manager
                    # sees the gap instead of trusting a message that reaches nobody.
                    row.status, row.next_attempt_at = Delivery.Status.FAILED, None
                    row.last_error = NO_ADDRESS[channel]
                    self._event(row, SessionEvent.Kind.DELIVERY_FAILED,
                                f"{row.get_channel_display()} to {_who(row)} not possible: "
                                f"{row.last_error}")
                rows.append(row)
        self.deliveries += rows
        return rows

    def _event(self, row: Delivery, kind: str, summary: str) -> None:
        if row.session is not None:
            self.events.append(SessionEvent(session=row.session, at=row.created_at, kind=kind,
                                            summary=summary[:300]))

    def save(self, *, need_ids: bool = True) -> None:
        """Write everything gathered. Without ``need_ids`` the rows go in by COPY on
        PostgreSQL (much faster for a big batch) and their ids are not read back."""
        if need_ids:
            Delivery.objects.bulk_create(self.deliveries)
            SessionEvent.objects.bulk_create(self.events)
        else:
            bulk.insert(Delivery, self.deliveries)
            bulk.insert(SessionEvent, self.events)
        self.deliveries, self.events = [], []


def queue(people, channels, **message) -> list[Delivery]:
    """Queue one message now, inside the caller's transaction."""
    outbox = Outbox()
    rows = outbox.add(people, channels, **message)
    outbox.save()
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
    # A slow provider must not hold up missed deadlines and escalation steps, which
    # run in the same loop: after a few seconds the rest of the batch is handed back.
    budget = time.monotonic() + min(SEND_BUDGET_SECONDS, settings.DELIVERY_LEASE_SECONDS / 2)
    sent, events, unsent = [], [], []
    for delivery in Delivery.objects.filter(pk__in=ids).select_related("recipient").order_by("pk"):
        if time.monotonic() > budget:
            unsent.append(delivery.pk)
            continue
        provider_ref = _send_one(delivery)
        if provider_ref is not None:
            delivery.status, delivery.sent_at = Delivery.Status.SENT, clock.now()
            delivery.provider_ref, delivery.next_attempt_at = provider_ref[:200], None
            delivery.last_error = ""
            sent.append(delivery)
            if delivery.session_id:
                events.append(SessionEvent(
                    session_id=delivery.session_id, at=delivery.sent_at,
                    kind=SessionEvent.Kind.DELIVERY,
                    summary=f"{delivery.get_channel_display()} to {_who(delivery)}: "
                            f"{delivery.subject}"[:300],
                    data={"delivery": delivery.pk, "attempts": delivery.attempts,
                          "late_seconds": round((delivery.sent_at - delivery.due_at)
                                                .total_seconds(), 1)}))
    with transaction.atomic():
        _mark_sent(sent)
        SessionEvent.objects.bulk_create(events)
        if unsent:
            Delivery.objects.filter(pk__in=unsent, status=Delivery.Status.PENDING).update(
                next_attempt_at=clock.now(), attempts=F("attempts") - 1)
    return len(ids)


def _mark_sent(sent: list[Delivery]) -> None:
    """Mark a batch sent in one statement, each row with its own time and reference."""
    if not sent:
        return
    table = Delivery._meta.db_table
    values = ", ".join(["(%s, %s, %s)"] * len(sent))
    params = []
    for d in sent:
        params += [d.pk, d.sent_at, d.provider_ref]
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH v(id, sent_at, ref) AS (VALUES {values}) "  # noqa: S608 - no user input
            f"UPDATE {table} SET status = 'sent', next_attempt_at = NULL, last_error = '', "
            f"sent_at = (SELECT v.sent_at FROM v WHERE v.id = {table}.id), "
            f"provider_ref = (SELECT v.ref FROM v WHERE v.id = {table}.id) "
            f"WHERE id IN (SELECT id FROM v) AND status = 'pending'",
            params,
        )


def _send_one(delivery: Delivery) -> str | None:
    """Send; on success return the provider's reference, else record why and return None."""
    try:
        return transports.send(delivery)
    except transports.PermanentFailure as error:
        _fail(delivery, str(error))
    except transports.TemporaryFailure as error:
        if delivery.attempts >= settings.DELIVERY_MAX_ATTEMPTS:
            _fail(delivery, f"gave up after {delivery.attempts} attempts: {error}")
        else:
            _retry(delivery, str(error))
            log.warning("delivery will be retried", extra={
                "delivery": delivery.pk, "channel": delivery.channel, "error": str(error),
                "attempts": delivery.attempts})
    except Exception as error:  # a bug in a transport must not stop the other deliveries
        log.exception("delivery transport crashed", extra={"delivery": delivery.pk})
        if delivery.attempts >= settings.DELIVERY_MAX_ATTEMPTS:
            _fail(delivery, f"gave up after {delivery.attempts} attempts: internal error")
        else:
            _retry(delivery, f"internal error: {error}")
    return None


def _retry(delivery: Delivery, reason: str) -> None:
    Delivery.objects.filter(pk=delivery.pk, status=Delivery.Status.PENDING).update(
        next_attempt_at=clock.now() + backoff(delivery.attempts), last_error=reason[:500])


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
