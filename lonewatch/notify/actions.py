"""Queue messages as delivery rows, and send the due ones (at-least-once).

Queuing happens inside the caller's transaction, so a message exists exactly when
the change that caused it commits. Sending happens outside any transaction: a row
is held by the worker that claims it (``claimed_by``), then sent, then marked. If
that worker is killed, another takes the row back as soon as the dead one's
heartbeat has been silent for a few seconds (ESC-03, see worker/claim.py); the
lease on ``next_attempt_at`` is only the last resort. The idempotency key goes with
every attempt, so an inbox can drop the copy a retry after a kill may send.
"""

import logging
import time
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F

from lonewatch import clock
from lonewatch.core import bulk
from lonewatch.notify import transports
from lonewatch.notify.failures import PermanentFailure, TemporaryFailure
from lonewatch.notify.hooks import Outcome, delivery_outcomes
from lonewatch.notify.models import Channel, Delivery, WebhookEndpoint
from lonewatch.worker import claim

log = logging.getLogger("lonewatch.notify")

SEND_BUDGET_SECONDS = 5
# ESC-03: what has gone out is recorded at least this often during a batch, so a worker
# killed half way through leaves little for another to send a second time.
MARK_EVERY_SECONDS = 0.5
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
    """Deliveries, and what became of them at once, gathered inside one transaction and
    written together: a batch of escalation steps costs a few statements, not a few
    per message. Rows are dicts of column values until they are saved."""

    def __init__(self):
        self.deliveries: list[dict] = []
        self.outcomes: list[Outcome] = []
        self._webhooks: dict = {}

    def add(self, people, channels, *, subject: str, body: str, link: str, purpose: str,
            organisation_id, about: tuple[str, int] | None = None,
            due_at: datetime | None = None, payload: dict | None = None) -> list[dict]:
        """One delivery per person per channel (webhooks: one per endpoint).

        ``people`` need only ``pk``, ``full_name``, ``email`` and ``mobile``; ``about``
        is what the message is about, as ``(kind, id)``. ``payload`` (JSON values) goes
        in each webhook's body beside the message."""
        now = clock.now()
        about_kind, about_id = about or ("", None)
        common = {"organisation_id": organisation_id,
                  "about_kind": about_kind, "about_id": about_id,
                  "subject": subject[:200], "body": body, "link": link, "purpose": purpose,
                  "created_at": now, "due_at": due_at or now, "next_attempt_at": now,
                  "status": Delivery.Status.PENDING, "attempts": 0, "provider_ref": "",
                  "last_error": ""}
        rows = []
        for channel in channels:
            if channel == Channel.WEBHOOK:
                rows += [common | {"channel": channel, "address": url, "recipient_id": None,
                                   "idempotency_key": uuid.uuid4(), "payload": payload or {}}
                         for url in self._webhook_urls(organisation_id)]
                continue
            for person in people:
                row = common | {"channel": channel, "recipient_id": person.pk,
                                "address": _address(person, channel),
                                "idempotency_key": uuid.uuid4()}
                label = Channel(channel).label
                if channel == Channel.IN_APP:
                    # Stored is delivered: the person's pages show it from now on.
                    row |= {"status": Delivery.Status.SENT, "sent_at": now,
                            "next_attempt_at": None, "provider_ref": "in_app"}
                    self._outcome(row, f"{label} to {person.full_name}: {row['subject']}")
                elif channel in NO_ADDRESS and not row["address"]:
                    # An alert that cannot be sent is shown as failed at once, so a manager
                    # sees the gap instead of trusting a message that reaches nobody.
                    row |= {"status": Delivery.Status.FAILED, "next_attempt_at": None,
                            "last_error": NO_ADDRESS[channel]}
                    self._outcome(row, f"{label} to {person.full_name} not possible: "
                                       f"{row['last_error']}", failed=True)
                rows.append(row)
        self.deliveries += rows
        return rows

    def _webhook_urls(self, organisation_id) -> list[str]:
        if organisation_id not in self._webhooks:
            self._webhooks[organisation_id] = list(
                WebhookEndpoint.objects.filter(organisation_id=organisation_id, active=True)
                .values_list("url", flat=True))
        return self._webhooks[organisation_id]

    def _outcome(self, row: dict, summary: str, *, failed: bool = False) -> None:
        if row["about_id"] is not None:
            self.outcomes.append(Outcome(row["about_kind"], row["about_id"],
                                         row["created_at"], failed, summary[:300],
                                         row["recipient_id"]))

    def save(self, *, need_ids: bool = True) -> list[Delivery]:
        """Write everything gathered. With ``need_ids`` the deliveries come back as saved
        objects; without, they go in by COPY on PostgreSQL (much faster for a big batch)
        and nothing is read back."""
        saved = []
        # An in-app message is delivered when it is written, not when it was composed:
        # in a big batch the two can be a second apart.
        written = clock.now()
        for row in self.deliveries:
            if row["channel"] == Channel.IN_APP:
                row["sent_at"] = written
        if need_ids:
            saved = Delivery.objects.bulk_create([Delivery(**row) for row in self.deliveries])
        else:
            bulk.insert_rows(Delivery, self.deliveries)
        if self.outcomes:
            delivery_outcomes(self.outcomes, bulk=not need_ids)
        self.deliveries, self.outcomes = [], []
        return saved


def queue(people, channels, **message) -> list[Delivery]:
    """Queue one message now, inside the caller's transaction."""
    outbox = Outbox()
    outbox.add(people, channels, **message)
    return outbox.save()


def queue_webhooks(**message) -> list[Delivery]:
    """Queue one signed webhook message to each active endpoint of the organisation, now,
    inside the caller's transaction."""
    return queue([], [Channel.WEBHOOK], **message)


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(3600, 5 * 2 ** max(0, attempts - 1)))


def send_due(limit: int = 200) -> int:
    now = clock.now()
    lease = timedelta(seconds=settings.DELIVERY_LEASE_SECONDS)
    with transaction.atomic():
        ids = claim.hold(
            Delivery.objects.filter(status=Delivery.Status.PENDING, next_attempt_at__lte=now)
            .order_by("next_attempt_at"),
            limit=limit, lease=lease, update={"attempts": F("attempts") + 1},
        )
    if not ids:
        return 0
    # A slow provider must not hold up missed deadlines and escalation steps, which
    # run in the same loop: after a few seconds the rest of the batch is handed back.
    # So is it when the worker is asked to stop, for another worker to send at once.
    budget = time.monotonic() + min(SEND_BUDGET_SECONDS, settings.DELIVERY_LEASE_SECONDS / 2)
    sent, outcomes, unsent = [], [], []
    marked = time.monotonic()
    for delivery in Delivery.objects.filter(pk__in=ids).select_related("recipient").order_by("pk"):
        if sent and time.monotonic() - marked >= MARK_EVERY_SECONDS:
            _record_sent(sent, outcomes)
            sent, outcomes, marked = [], [], time.monotonic()
        if time.monotonic() > budget or claim.stopping():
            unsent.append(delivery.pk)
            continue
        provider_ref = _send_one(delivery)
        if provider_ref is not None:
            delivery.status, delivery.sent_at = Delivery.Status.SENT, clock.now()
            delivery.provider_ref, delivery.next_attempt_at = provider_ref[:200], None
            delivery.last_error = ""
            sent.append(delivery)
            if delivery.about_id is not None:
                outcomes.append(Outcome(
                    delivery.about_kind, delivery.about_id, delivery.sent_at, False,
                    f"{delivery.get_channel_display()} to {_who(delivery)}: "
                    f"{delivery.subject}"[:300], delivery.recipient_id,
                    {"delivery": delivery.pk, "attempts": delivery.attempts,
                     "late_seconds": round((delivery.sent_at - delivery.due_at)
                                           .total_seconds(), 1)}))
    _record_sent(sent, outcomes)
    with transaction.atomic():
        if unsent:
            Delivery.objects.filter(pk__in=unsent, status=Delivery.Status.PENDING,
                                    claimed_by=claim.holder()).update(
                next_attempt_at=clock.now(), attempts=F("attempts") - 1,
                **claim.release_fields())
    return len(ids)


def _record_sent(sent: list[Delivery], outcomes: list[Outcome]) -> None:
    """Mark a batch sent and show the outcomes on their timelines, in one transaction."""
    with transaction.atomic():
        _mark_sent(sent)
        if outcomes:
            delivery_outcomes(outcomes, bulk=True)


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
            f"claimed_by = NULL, claimed_at = NULL, "
            f"sent_at = v.sent_at, provider_ref = v.ref FROM v "
            f"WHERE {table}.id = v.id AND {table}.status = 'pending'",
            params,
        )


def _send_one(delivery: Delivery) -> str | None:
    """Send; on success return the provider's reference, else record why and return None."""
    try:
        return transports.send(delivery)
    except PermanentFailure as error:
        _fail(delivery, str(error))
    except TemporaryFailure as error:
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
    # Only while still ours: if another worker took the row back meanwhile, it decides.
    Delivery.objects.filter(pk=delivery.pk, status=Delivery.Status.PENDING,
                            claimed_by=claim.holder()).update(
        next_attempt_at=clock.now() + backoff(delivery.attempts), last_error=reason[:500],
        **claim.release_fields())


def _who(delivery) -> str:
    return delivery.recipient.full_name if delivery.recipient else delivery.address


def _fail(delivery: Delivery, reason: str) -> None:
    now = clock.now()
    with transaction.atomic():
        updated = Delivery.objects.filter(pk=delivery.pk, status=Delivery.Status.PENDING).update(
            status=Delivery.Status.FAILED, next_attempt_at=None, last_error=reason[:500],
            **claim.release_fields())
        if updated and delivery.about_id is not None:
            delivery_outcomes([Outcome(
                delivery.about_kind, delivery.about_id, now, True,
                f"{delivery.get_channel_display()} to {_who(delivery)} failed: {reason}"[:300],
                delivery.recipient_id, {"delivery": delivery.pk})], bulk=False)
    log.warning("delivery failed", extra={"delivery": delivery.pk, "reason": reason})
