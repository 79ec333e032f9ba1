"""The audit trail (ORG-05): who did what to which record, when and from where.

``record`` must run inside the transaction that makes the change, so the
change and its audit row commit or vanish together. Reads of sensitive data
call ``record_read``, which opens its own short transaction.
"""

import hashlib
import json
import zlib
from dataclasses import dataclass

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction

from lonewatch import clock
from lonewatch.core import context, permissions
from lonewatch.core.models import AuditChainHead, AuditEvent

CHAINS = 16
GENESIS = "0" * 64


def _jsonable(value):
    """Round-trip through JSON so that what is hashed is exactly what is stored."""
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def compute_hash(event: AuditEvent) -> str:
    body = {
        "chain": event.chain,
        "seq": event.seq,
        "at": event.at.isoformat(timespec="microseconds"),
        "actor": event.actor_id,
        "actor_label": event.actor_label,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "summary": event.summary,
        "changes": event.changes,
        "ip": event.ip,
        "request_id": event.request_id,
        "prev": event.prev_hash,
    }
    if event.organisation_id is not None:  # written since events name their organisation
        body["organisation"] = event.organisation_id
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def chain_for(object_type: str, object_id: str) -> int:
    return zlib.crc32(f"{object_type}:{object_id}".encode()) % CHAINS


def _lock_head(chain: int) -> AuditChainHead:
    head = AuditChainHead.objects.select_for_update().filter(chain=chain).first()
    if head is None:
        AuditChainHead.objects.bulk_create(
            [AuditChainHead(chain=chain, seq=0, hash=GENESIS)], ignore_conflicts=True
        )
        head = AuditChainHead.objects.select_for_update().get(chain=chain)
    return head


def _organisation_of(obj, actor) -> int | None:
    """The organisation an event belongs to: the record's, else the actor's."""
    if obj is not None:
        if getattr(obj, "organisation_id", None) is not None:
            return obj.organisation_id
        if type(obj) in permissions.records():
            return permissions.reach_of(obj).organisation_id
    person = getattr(actor, "person", None) if actor is not None else None
    return getattr(person, "organisation_id", None)


def _label(actor) -> str:
    if actor is None:
        return "system"
    return actor.get_username()


def record(
    action: str,
    *,
    actor,
    obj=None,
    object_type: str | None = None,
    object_id=None,
    summary: str = "",
    before: dict | None = None,
    after: dict | None = None,
) -> AuditEvent:
    """Append an audit event inside the caller's transaction."""
    if not connection.in_atomic_block:
        raise RuntimeError("audit.record must run inside the transaction that makes the change")
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = obj.pk if object_id is None else object_id
    object_type = object_type or "-"
    object_id = "" if object_id is None else str(object_id)
    changes = {}
    if before is not None:
        changes["before"] = before
    if after is not None:
        changes["after"] = after
    chain = chain_for(object_type, object_id)
    head = _lock_head(chain)
    event = AuditEvent(
        chain=chain,
        seq=head.seq + 1,
        at=clock.now(),
        actor=actor if actor is not None and actor.pk else None,
        actor_label=_label(actor),
        action=action,
        object_type=object_type,
        object_id=object_id,
        summary=summary[:300],
        changes=_jsonable(changes),
        ip=context.client_ip.get(),
        request_id=context.request_id.get(),
        organisation_id=_organisation_of(obj, actor),
        prev_hash=head.hash,
    )
    event.hash = compute_hash(event)
    event.save(force_insert=True)
    AuditChainHead.objects.filter(chain=chain).update(seq=event.seq, hash=event.hash)
    return event


def record_read(action: str, *, actor, obj, summary: str = "") -> AuditEvent:
    """Audit a read of sensitive data (next of kin, risk markers, recordings)."""
    with transaction.atomic():
        return record(action, actor=actor, obj=obj, summary=summary)


def diff(before: dict, after: dict) -> tuple[dict, dict]:
    """Keep only the fields that changed, for a readable before/after pair."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after.get(k) for k in keys}


@dataclass
class Problem:
    chain: int
    seq: int | None
    event_id: int | None
    message: str

    def __str__(self):
        where = f"event #{self.event_id}" if self.event_id else f"chain {self.chain}"
        return f"{where} (chain {self.chain}, seq {self.seq}): {self.message}"


def verify() -> tuple[int, list[Problem]]:
    """Walk every chain; return how many events were checked and what is wrong."""
    problems: list[Problem] = []
    checked = 0
    heads = {h.chain: h for h in AuditChainHead.objects.all()}
    chains = set(heads) | set(AuditEvent.objects.values_list("chain", flat=True).distinct())
    for chain in sorted(chains):
        expected_seq, prev_hash = 1, GENESIS
        for event in AuditEvent.objects.filter(chain=chain).order_by("seq").iterator(2000):
            checked += 1
            if event.seq != expected_seq:
                problems.append(Problem(
                    chain, expected_seq, None,
                    f"events {expected_seq} to {event.seq - 1} are missing (deleted) "
                    f"before event #{event.pk}",
                ))
            elif event.prev_hash != prev_hash:
                problems.append(Problem(
                    chain, event.seq, event.pk,
                    "does not follow the event before it (the earlier event was changed)",
                ))
            if compute_hash(event) != event.hash:
                problems.append(Problem(
                    chain, event.seq, event.pk,
                    f"contents were altered after it was written ({event.action} on "
                    f"{event.object_type}:{event.object_id})",
                ))
            expected_seq, prev_hash = event.seq + 1, event.hash
        head = heads.get(chain)
        last_seq = expected_seq - 1
        if head is None:
            problems.append(Problem(chain, None, None, "chain head is missing"))
        elif head.seq != last_seq:
            problems.append(Problem(
                chain, head.seq, None,
                f"the last {head.seq - last_seq} event(s) of the chain were deleted "
                f"(head says {head.seq}, found {last_seq})",
            ))
        elif head.hash != prev_hash:
            problems.append(Problem(chain, head.seq, None, "the last event was replaced"))
    return checked, problems
