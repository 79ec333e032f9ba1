"""Insert many rows at once: PostgreSQL's COPY where available, else bulk_create.

Escalating thousands of missed deadlines in one pass writes thousands of rows;
COPY skips the per-row SQL building that dominates Django's bulk_create there.
Rows are plain dicts of column values (``attname`` keys, ``session_id`` not
``session``): building a model instance per row costs more than the COPY itself.
"""

import json

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models

# One encoder for every value: json.dumps with options builds a new one per call.
_ENCODER = DjangoJSONEncoder()


class Encoded(str):
    """A JSON column's value already encoded as JSON text, written as it is (a caller that
    hashed the text need not encode it twice)."""


def insert_rows(model, rows: list[dict]) -> None:
    """Insert rows given as dicts; a column a row leaves out takes the field's default."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        model.objects.bulk_create([model(**_decoded(row)) for row in rows])
        return
    fields = _fields(model, with_pk="id" in rows[0])
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    table = connection.ops.quote_name(model._meta.db_table)
    names = [f.attname for f in fields]
    # psycopg adapts dates, numbers, strings and UUIDs itself; only JSON needs a hand,
    # and only columns a row leaves empty need their default.
    json_at = [i for i, f in enumerate(fields) if isinstance(f, models.JSONField)]
    defaults = [(i, f.get_default) for i, f in enumerate(fields) if f.has_default()]
    with connection.cursor() as cursor, cursor.cursor.copy(
            f"COPY {table} ({columns}) FROM STDIN") as copy:
        for row in rows:
            values = [row.get(name) for name in names]
            for i, default in defaults:
                if values[i] is None:
                    values[i] = default()
            for i in json_at:
                if values[i] is not None and not isinstance(values[i], Encoded):
                    values[i] = _ENCODER.encode(values[i])
            copy.write_row(values)


def _decoded(row: dict) -> dict:
    """The row with every ``Encoded`` value back as Python values, for the ORM."""
    if not any(isinstance(value, Encoded) for value in row.values()):
        return row
    return {key: json.loads(value) if isinstance(value, Encoded) else value
            for key, value in row.items()}


def reserve_ids(model, count: int) -> list[int]:
    """``count`` new primary keys for ``model``, so rows written by COPY can be referred
    to before they exist. On SQLite the caller must hold the write lock (every write
    transaction here starts IMMEDIATE), so nobody else takes the same numbers."""
    if count <= 0:
        return []
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id')) "
                           "FROM generate_series(1, %s)", [table, count])
            return [row[0] for row in cursor.fetchall()]
        cursor.execute(
            "SELECT max(seq) FROM (SELECT seq FROM sqlite_sequence WHERE name = %s "  # noqa: S608
            f"UNION ALL SELECT max(id) FROM {connection.ops.quote_name(table)})", [table])
        last = cursor.fetchone()[0] or 0
    return list(range(last + 1, last + 1 + count))


def _fields(model, *, with_pk: bool = False) -> list:
    return [f for f in model._meta.concrete_fields if with_pk or not f.primary_key]
