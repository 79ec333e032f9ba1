"""The audit trail (ORG-05): who did what to which record, when and from where.

``record`` must run inside the transaction that makes the change, so the
change and its audit row commit or vanish together. Reads of sensitive data
call ``record_read``, which opens its own short transaction. The worker's scanners,
which act on thousands of records in one pass, write their events with
``record_many``: one batch, on a chain of their own.

An event can anchor a record's timeline (``lonewatch.core.timeline``): it records the
timeline's last line (seq and hash) at that moment, so that ``verify`` also finds a
timeline whose newest lines were deleted or rewritten since.
"""

import hashlib
import json
import zlib
from dataclasses import dataclass

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction

from lonewatch import clock
from lonewatch.core import context, permissions
from lonewatch.core import timeline as timelines
from lonewatch.core.bulk import Encoded, insert_rows
from lonewatch.core.models import AuditChainHead, AuditEvent

CHAINS = 16
# The chain of the events the worker writes in bulk (record_many). Requests never write
# to it, so a batch holding its head until commit never holds up a request, and a request
# holding a head never holds up a batch.
WORKER_CHAIN = CHAINS
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
    return _digest(body)


# A string as ``json.dumps(..., ensure_ascii=False)`` writes it, and changes as the
# canonical form has them (after the round trip of ``_jsonable``).
_text = json.encoder.encode_basestring
_CHANGES = DjangoJSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _digest(body: dict) -> str:
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
    timeline: dict | None = None,
    actor_label: str | None = None,
) -> AuditEvent:
    """Append an audit event inside the caller's transaction. ``timeline`` anchors a
    record's timeline (``Timeline.head``); ``actor_label`` names an actor who is not a
    user (an anonymous sign-in attempt)."""
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
    if timeline is not None:
        changes["timeline"] = timeline
    chain = chain_for(object_type, object_id)
    head = _lock_head(chain)
    event = AuditEvent(
        chain=chain,
        seq=head.seq + 1,
        at=clock.now(),
        actor=actor if actor is not None and actor.pk else None,
        actor_label=actor_label or _label(actor),
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


def record_many(entries: list[dict]) -> int:
    """Append many events at once, written by the system (the worker's scanners), on the
    worker's chain, inside the caller's transaction. Each entry has ``action``,
    ``object_type``, ``object_id`` and ``summary``, and may have ``before``, ``after``,
    ``timeline`` (as for ``record``) and ``organisation_id`` (whose trail it is). Call it
    last before the transaction commits: it holds the chain's head until then. Returns
    how many were written."""
    if not entries:
        return 0
    if not connection.in_atomic_block:
        raise RuntimeError("audit.record_many must run inside the transaction that makes "
                           "the change")
    head = _lock_head(WORKER_CHAIN)
    seq, prev = head.seq, head.hash
    at = clock.now()
    request_id = context.request_id.get()
    # The canonical form of ``compute_hash``, assembled around the parts that differ, so
    # that each event costs one encoding of its changes (a burst writes tens of
    # thousands). ``verify`` recomputes it the ordinary way.
    fixed = (f'"actor":null,"actor_label":"system","at":'
             f'"{at.isoformat(timespec="microseconds")}","chain":{WORKER_CHAIN},')
    request = _text(request_id)
    rows = []
    for entry in entries:
        seq += 1
        changes = Encoded(_CHANGES.encode(
            {key: entry[key] for key in ("before", "after", "timeline") if key in entry}))
        object_id, summary = str(entry["object_id"]), entry.get("summary", "")[:300]
        organisation_id = entry.get("organisation_id")
        organisation = "" if organisation_id is None else f'"organisation":{int(organisation_id)},'
        canonical = (f'{{"action":{_text(entry["action"])},{fixed}"changes":{changes},'
                     f'"ip":null,"object_id":{_text(object_id)},'
                     f'"object_type":{_text(entry["object_type"])},{organisation}'
                     f'"prev":"{prev}",'
                     f'"request_id":{request},"seq":{seq},"summary":{_text(summary)}}}')
        row = {"chain": WORKER_CHAIN, "seq": seq, "at": at, "actor_id": None,
               "actor_label": "system", "action": entry["action"],
               "object_type": entry["object_type"], "object_id": object_id,
               "summary": summary, "changes": changes, "ip": None, "request_id": request_id,
               "organisation_id": organisation_id,
               "prev_hash": prev, "hash": hashlib.sha256(canonical.encode()).hexdigest()}
        prev = row["hash"]
        rows.append(row)
    insert_rows(AuditEvent, rows)
    AuditChainHead.objects.filter(chain=WORKER_CHAIN).update(seq=seq, hash=prev)
    return len(rows)


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


def verify() -> tuple[int, list[Problem | timelines.Problem]]:
    """Walk every chain; return how many events were checked and what is wrong. Each
    timeline an event anchors must still hold the line it recorded (unless the record
    was purged since, for retention)."""
    problems: list[Problem | timelines.Problem] = []
    anchors: list[tuple[int, dict]] = []
    purged: set[tuple[str, int]] = set()
    checked = 0
    heads = {h.chain: h for h in AuditChainHead.objects.all()}
    chains = set(heads) | set(AuditEvent.objects.values_list("chain", flat=True).distinct())
    for chain in sorted(chains):
        expected_seq, prev_hash = 1, GENESIS
        for event in AuditEvent.objects.filter(chain=chain).order_by("seq").iterator(2000):
            checked += 1
            anchor = event.changes.get("timeline") if isinstance(event.changes, dict) else None
            if isinstance(anchor, dict):
                (purged.add((anchor["timeline"], anchor["record"]))
                 if event.action.endswith(".purge") else anchors.append((event.pk, anchor)))
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
    for event_id, anchor in anchors:
        found = timelines.timeline(anchor.get("timeline", ""))
        if found is not None and (anchor["timeline"], anchor["record"]) not in purged:
            problem = found.check_anchor(anchor, event_id=event_id)
            if problem is not None:
                problems.append(problem)
    return checked, problems
