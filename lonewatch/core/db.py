"""Statements PostgreSQL parses and plans once per connection.

Django binds parameters on the client (psycopg's ``ClientCursor``): every statement
reaches PostgreSQL as new text, which it parses and plans afresh. For the few statements
Lonewatch runs thousands of times a minute (a check-in is one), parsing and planning cost
PostgreSQL more than running them: measured, the check-in statement took 1.1 ms of the
database's CPU as text and 0.5 ms prepared (docs/performance.md). ``prepared_cursor`` is
Django's own cursor (its health check, error wrapping and query log) over a psycopg
cursor that binds on the server, so psycopg prepares a statement once it has run a few
times on a connection and runs the prepared form after that. Django's other cursors are
unchanged: they bind on the client and are never prepared.

A statement run this way should name the types of parameters that may be NULL
(``%(lat)s::float8``): the server, not the client, reads them. Behind a connection pooler
in transaction mode, the pooler must keep prepared statements (PgBouncer 1.21 or later,
``max_prepared_statements``; see docs/operations.md). On SQLite the cursor is Django's
ordinary one.
"""

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from django.db import connection

# psycopg's own default: a statement is prepared on its sixth run on a connection.
PREPARE_AFTER = 5


@contextmanager
def prepared_cursor() -> Iterator:
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            yield cursor
            return
        raw = connection.connection
        if raw.prepare_threshold is None:  # Django's default, which prepares nothing
            raw.prepare_threshold = PREPARE_AFTER
        client_side = cursor.cursor
        cursor.cursor = ServerBound(raw)
        try:
            yield cursor
        finally:
            cursor.cursor.close()
            cursor.cursor = client_side


class ServerBound(psycopg.Cursor):
    """psycopg's cursor that binds on the server, keeping the statement where Django's
    query log reads it (``last_executed_query``), as the client-side cursor does."""

    def _convert_query(self, query, params=None):
        self._query = super()._convert_query(query, params)
        return self._query
