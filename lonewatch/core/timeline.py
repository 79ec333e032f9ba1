"""Append-only, hash-chained timelines: one chain per record (ORG-05).

A session's timeline and an alarm's timeline are each a chain of their own. Line
``seq`` n of a record carries the hash of line n-1 (``prev_hash``) and its own
``hash``, over a canonical form of its content. A chain per record keeps the check-in
path free of any shared lock: a writer locks only the record it writes about (the
session or the alarm row), reads the record's last line, and appends.

Every writer of a timeline goes through one ``Timeline``: ``append`` for one line,
``append_rows`` for many lines of many records (written by COPY on PostgreSQL), and
``link`` for a caller that writes the rows itself. The PostgreSQL check-in statement
computes the same hash in SQL (``sql_netstring``). ``verify`` walks every chain;
``lonewatch audit verify`` runs it beside the audit trail's own check.

The database refuses UPDATE and DELETE of timeline lines (migrations of each app).
A line can only be deleted under a purge permit: a row in ``lonewatch_timeline_purge``
naming the table and the record, written and removed inside the transaction that
deletes (``Timeline.purge``), so that retention can remove a whole record some day,
audited, and nothing else can.

This module knows no domain app: each app declares its timelines (see
``lonewatch/visits/timeline.py`` and ``lonewatch/alarms/timeline.py``).
"""

import hashlib
import json
from collections.abc import Iterable
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection

from lonewatch.core.bulk import Encoded, insert_rows

GENESIS = "0" * 64
PERMITS = "lonewatch_timeline_purge"
SQLITE_BATCH = 500  # ids per statement on SQLite, well under its parameter limit

_timelines: dict[str, "Timeline"] = {}
# One encoder for every line: json.dumps with options builds a new one per call.
_CANONICAL = DjangoJSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def at_text(at: datetime) -> str:
    """A line's time as hashed: UTC, to the microsecond, as the database gives it back."""
    if at.tzinfo is not UTC:
        at = at.astimezone(UTC)
    return at.isoformat(timespec="microseconds")


def data_text(data: dict) -> str:
    """A line's ``data`` as hashed: canonical JSON (sorted keys, no spaces). Its keys are
    strings, at every depth, so that the text the database gives back encodes the same."""
    return _CANONICAL.encode(data) if data else "{}"


def line_hash(timeline: str, record_id, seq: int, at: str, kind: str, actor_id,
              summary: str, data: str, prev_hash: str) -> str:
    """SHA-256 over each field as ``<length>:<text>`` (``netstring``), so no field can borrow
    from the next. ``at`` and ``data`` are the texts of ``at_text`` and ``data_text``."""
    record, number = str(record_id), str(seq)
    actor = "" if actor_id is None else str(actor_id)
    canonical = (f"{len(timeline)}:{timeline}{len(record)}:{record}{len(number)}:{number}"
                 f"{len(at)}:{at}{len(kind)}:{kind}{len(actor)}:{actor}"
                 f"{len(summary)}:{summary}{len(data)}:{data}{len(prev_hash)}:{prev_hash}")
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def netstring(text: str) -> str:
    """One field of a line's canonical form, as ``line_hash`` writes it."""
    return f"{len(text)}:{text}"


def sql_netstring(expression: str) -> str:
    """``netstring`` in PostgreSQL, of an SQL text expression (``length`` counts
    characters, as Python's ``len`` does)."""
    return f"length({expression})::text || ':' || {expression}"


@dataclass
class Problem:
    timeline: str
    record_id: int
    seq: int | None
    line_id: int | None
    message: str

    def __str__(self):
        line = f", line #{self.line_id}" if self.line_id else ""
        return f"{self.timeline} {self.record_id} timeline{line} (seq {self.seq}): {self.message}"


@dataclass
class _Batch:
    """What one pass has learnt of a timeline inside its transaction (``Timeline.batch``)."""

    heads: dict = field(default_factory=dict)
    locked: set = field(default_factory=set)


class Timeline:
    """The chained timeline of one kind of record.

    ``model`` is a ``core.models.TimelineLine`` with the parent foreign key ``parent``;
    ``positions`` is its ``core.models.Position``, where a line's location is kept.
    """

    def __init__(self, name: str, model, parent: str, *, positions):
        self.name = name
        self.model = model
        self.positions = positions
        field = model._meta.get_field(parent)
        self.parent = parent
        self.parent_column = field.attname
        self.parent_model = field.related_model
        self._batch: ContextVar[_Batch | None] = ContextVar(f"timeline_{name}", default=None)
        _timelines[name] = self

    def __repr__(self):
        return f"<Timeline {self.name}>"

    # --- writing ----------------------------------------------------------------------

    @contextmanager
    def batch(self, *, locked: Iterable[int] = ()):
        """For a pass that appends to the same records more than once in its transaction
        (a burst's lines, then the lines of what they sent): inside the block, records
        locked once (``locked``: already held, by a claim) are not locked again, and each
        record's head is read once, then followed in memory. Only inside the transaction,
        and only while nothing else appends to these records in it but through here."""
        if not connection.in_atomic_block:
            raise RuntimeError("a timeline batch lives inside one transaction")
        token = self._batch.set(_Batch(locked=set(locked)))
        try:
            yield
        finally:
            self._batch.reset(token)

    def lock(self, record_ids: Iterable[int], *, skip_locked: bool = False) -> list[int]:
        """Lock the records' rows, in id order (two writers of many records never wait
        on each other in a circle), and return the ids locked: with ``skip_locked``,
        those another transaction holds are left out. A timeline is appended to only
        under this lock. (On SQLite every write transaction already holds the
        database's one write lock.)"""
        ids = sorted(set(record_ids))
        batch = self._batch.get()
        if batch is not None and not skip_locked:
            ids = [pk for pk in ids if pk not in batch.locked]
        if connection.vendor != "postgresql" or not ids:
            return ids
        table = connection.ops.quote_name(self.parent_model._meta.db_table)
        pk = connection.ops.quote_name(self.parent_model._meta.pk.column)
        skip = " SKIP LOCKED" if skip_locked else ""
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {pk} FROM {table} WHERE {pk} = ANY(%s) "  # noqa: S608
                           f"ORDER BY {pk} FOR NO KEY UPDATE{skip}", [ids])
            got = [row[0] for row in cursor.fetchall()]
        if batch is not None:
            batch.locked.update(got)
        return got

    def heads(self, record_ids: Iterable[int]) -> dict[int, tuple[int, str]]:
        """Each record's last line as ``(seq, hash)``; records without lines are left
        out. Read after the records are locked, so it is the true head."""
        ids = sorted(set(record_ids))
        table = connection.ops.quote_name(self.model._meta.db_table)
        column = connection.ops.quote_name(self.parent_column)
        found = {}
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(
                    f"SELECT DISTINCT ON ({column}) {column}, seq, hash FROM {table} "  # noqa: S608
                    f"WHERE {column} = ANY(%s) ORDER BY {column}, seq DESC", [ids])
                return {row[0]: (row[1], row[2]) for row in cursor.fetchall()}
            for start in range(0, len(ids), SQLITE_BATCH):
                batch = ids[start:start + SQLITE_BATCH]
                marks = ", ".join(["%s"] * len(batch))
                cursor.execute(
                    f"SELECT t.{column}, t.seq, t.hash FROM {table} AS t "  # noqa: S608
                    f"JOIN (SELECT {column} AS record, max(seq) AS top FROM {table} "
                    f"      WHERE {column} IN ({marks}) GROUP BY {column}) AS last "
                    f"ON t.{column} = last.record AND t.seq = last.top", batch)
                found.update({row[0]: (row[1], row[2]) for row in cursor.fetchall()})
        return found

    def link(self, rows: list[dict]) -> list[dict]:
        """Give each row (a dict of column values: ``<parent>_id``, ``at``, ``kind``,
        ``summary``, optional ``actor_id`` and ``data``) its ``seq``, ``prev_hash`` and
        ``hash``, in list order within each record. The caller holds the lock on every
        record (``lock``) and writes the rows before it commits. ``data`` becomes the
        JSON text that was hashed (``bulk.Encoded``), which is what is stored."""
        batch = self._batch.get()
        records = {row[self.parent_column] for row in rows}
        if batch is None:
            heads = self.heads(records)
        else:
            heads = batch.heads
            unknown = records - heads.keys()
            if unknown:
                heads.update(dict.fromkeys(unknown, (0, GENESIS)) | self.heads(unknown))
        last_at, last_text = None, ""
        for row in rows:
            record = row[self.parent_column]
            seq, prev = heads.get(record, (0, GENESIS))
            data = Encoded(data_text(row.get("data") or {}))
            if row["at"] != last_at:  # a batch's lines mostly share their time
                last_at, last_text = row["at"], at_text(row["at"])
            row["data"] = data
            row.setdefault("actor_id", None)
            row["seq"], row["prev_hash"] = seq + 1, prev
            row["hash"] = line_hash(self.name, record, seq + 1, last_text, row["kind"],
                                    row["actor_id"], row["summary"], data, prev)
            heads[record] = (seq + 1, row["hash"])
        return rows

    def append(self, record_id: int, *, here=None, **fields):
        """Append one line to a record's timeline and return it, with where the worker
        was (``here``: an object with ``lat``, ``lon`` and ``accuracy_m``) as its position
        if given. Runs inside the caller's transaction; locks the record (a no-op when
        the caller already holds it)."""
        if not connection.in_atomic_block:
            raise RuntimeError("a timeline line is appended inside the transaction that "
                               "makes the change")
        if "actor" in fields:
            actor = fields.pop("actor")
            fields["actor_id"] = actor.pk if actor is not None and actor.pk else None
        self.lock([record_id])
        row = self.link([{self.parent_column: record_id, **fields}])[0]
        line = self.model(**row | {"data": json.loads(row["data"])})
        line.save(force_insert=True)
        line.position = None if here is None else self.positions.objects.create(
            event=line, lat=here.lat, lon=here.lon, accuracy_m=here.accuracy_m)
        return line

    def append_rows(self, rows: list[dict], *, copy: bool = False,
                    locked: bool = False) -> None:
        """Append many lines to many records' timelines, in list order within each
        record. ``copy`` writes them with COPY on PostgreSQL (nothing is read back);
        ``locked`` says the caller already holds every record's lock (a claim)."""
        if not rows:
            return
        if not connection.in_atomic_block:
            raise RuntimeError("timeline lines are appended inside the transaction that "
                               "makes the change")
        if not locked:
            self.lock({row[self.parent_column] for row in rows})
        self.link(rows)
        if copy:
            insert_rows(self.model, rows)
        else:
            self.model.objects.bulk_create([self.model(**row | {"data": json.loads(row["data"])})
                                            for row in rows])

    # --- retention --------------------------------------------------------------------

    @contextmanager
    def purge_permit(self, record_id: int | None):
        """Let the database delete this record's lines (every record's, for None) until
        the block ends. Only inside a transaction: the permit is never committed."""
        if not connection.in_atomic_block:
            raise RuntimeError("a purge permit lives only inside a transaction")
        table = self.model._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(f"INSERT INTO {PERMITS} (tbl, record_id) VALUES (%s, %s)",  # noqa: S608
                           [table, record_id])
        try:
            yield
        finally:
            _withdraw(table, record_id)

    def purge(self, record_id: int) -> int:
        """Delete a record's whole timeline (and what refers to its lines), for retention
        only: the caller deletes the record itself next, in the same transaction, and
        audits it (``timeline_head`` gives the anchor to record). Returns how many lines
        went."""
        with self.purge_permit(record_id):
            deleted, _ = self.model.objects.filter(**{self.parent_column: record_id}).delete()
        return deleted

    def anchor(self, line) -> dict:
        """A line just appended, to anchor in an audit event (see ``head``)."""
        return {"timeline": self.name, "record": getattr(line, self.parent_column),
                "seq": line.seq, "hash": line.hash}

    def head(self, record_id: int) -> dict:
        """The record's last line, to anchor in an audit event: ``{"timeline", "record",
        "seq", "hash"}``; seq 0 for an empty timeline."""
        seq, digest = self.heads([record_id]).get(record_id, (0, GENESIS))
        return {"timeline": self.name, "record": record_id, "seq": seq, "hash": digest}

    # --- checking ---------------------------------------------------------------------

    def verify(self) -> tuple[int, int, list[Problem]]:
        """Walk every record's chain: (lines checked, records, problems)."""
        problems: list[Problem] = []
        checked = records = 0
        column = self.parent_column
        rows = (self.model.objects.order_by(column, "seq")
                .values_list("pk", column, "seq", "at", "kind", "actor_id", "summary",
                             "data", "prev_hash", "hash"))
        record, expected, prev = None, 1, GENESIS
        for pk, record_id, seq, at, kind, actor_id, summary, data, prev_hash, digest in \
                rows.iterator(chunk_size=5000):
            checked += 1
            if record_id != record:
                record, expected, prev = record_id, 1, GENESIS
                records += 1
            if seq != expected:
                problems.append(Problem(
                    self.name, record_id, expected, None,
                    f"lines {expected} to {seq - 1} are missing (deleted) before line #{pk}"
                    if seq > expected else f"line #{pk} repeats seq {seq}"))
            elif prev_hash != prev:
                problems.append(Problem(
                    self.name, record_id, seq, pk,
                    "does not follow the line before it (the earlier line was changed)"))
            if line_hash(self.name, record_id, seq, at_text(at), kind, actor_id, summary,
                         data_text(data), prev_hash) != digest:
                problems.append(Problem(
                    self.name, record_id, seq, pk,
                    f"contents were altered after it was written ({kind}: {summary[:60]})"))
            expected, prev = seq + 1, digest
        return checked, records, problems

    def check_anchor(self, anchor: dict, *, event_id: int) -> Problem | None:
        """Is line ``anchor["seq"]`` of the record still the one an audit event recorded?
        Finds a deleted or replaced tail that the chain alone cannot show."""
        record, seq = anchor["record"], anchor["seq"]
        if seq == 0:
            return None
        found = (self.model.objects.filter(**{self.parent_column: record, "seq": seq})
                 .values_list("hash", flat=True).first())
        if found is None:
            return Problem(self.name, record, seq, None,
                           f"line {seq}, recorded by audit event #{event_id}, is missing "
                           "(deleted)")
        if found != anchor["hash"]:
            return Problem(self.name, record, seq, None,
                           f"line {seq} is not the one audit event #{event_id} recorded "
                           "(the timeline was rewritten)")
        return None


def _withdraw(table: str, record_id: int | None) -> None:
    with connection.cursor() as cursor:
        if record_id is None:
            cursor.execute(f"DELETE FROM {PERMITS} WHERE tbl = %s AND record_id IS NULL",  # noqa: S608
                           [table])
        else:
            cursor.execute(f"DELETE FROM {PERMITS} WHERE tbl = %s AND record_id = %s",  # noqa: S608
                           [table, record_id])


@contextmanager
def flush_permit():
    """Let ``lonewatch flush`` (which empties every table, as the test runner does between
    tests) delete timeline lines too: a permit for every table, inside the flush's
    transaction only."""
    if not connection.in_atomic_block:
        raise RuntimeError("a purge permit lives only inside a transaction")
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {PERMITS} (tbl, record_id) VALUES ('*', NULL)")  # noqa: S608
    try:
        yield
    finally:
        _withdraw("*", None)


def timelines() -> list[Timeline]:
    return list(_timelines.values())


def timeline(name: str) -> Timeline | None:
    return _timelines.get(name)
