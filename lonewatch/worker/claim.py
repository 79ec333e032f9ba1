"""Claim due rows so that each is handled by exactly one worker process."""

from django.db import connection


def claim(queryset, *, limit: int, update: dict | None = None) -> list[int]:
    """Lock up to ``limit`` rows of ``queryset`` for this transaction and return their ids.

    Must run inside ``transaction.atomic()``. On PostgreSQL the rows are taken with
    ``SELECT … FOR UPDATE SKIP LOCKED``, so another worker skips them and takes the
    next ones. On SQLite every write transaction starts IMMEDIATE and so holds the
    database's only write lock; no other writer can run between the select and our
    update. ``update``, if given, is applied to the claimed rows at once (for example
    to push a lease forward so the rows stay claimed after commit).
    """
    if not connection.in_atomic_block:
        raise RuntimeError("claim() must run inside a transaction")
    if connection.vendor == "postgresql":
        queryset = queryset.select_for_update(skip_locked=True, of=("self",))
    ids = list(queryset.values_list("pk", flat=True)[:limit])
    if ids and update:
        queryset.model.objects.filter(pk__in=ids).update(**update)
    return ids
