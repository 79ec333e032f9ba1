"""ORG-05: the database itself refuses to change or remove a line of a session's
timeline, on PostgreSQL and on SQLite; only a purge permit for the session lets its
lines be deleted (core migration 0003, docs/audit.md). A later migration that makes
SQLite rebuild this table must create these triggers again."""

from django.db import migrations

TABLE, COLUMN = "visits_sessionevent", "session_id"
POSTGRES_UP = f"""
CREATE TRIGGER {TABLE}_append_only BEFORE UPDATE OR DELETE ON {TABLE}
    FOR EACH ROW EXECUTE FUNCTION lonewatch_timeline_append_only('{COLUMN}');
CREATE TRIGGER {TABLE}_no_truncate BEFORE TRUNCATE ON {TABLE}
    FOR EACH STATEMENT EXECUTE FUNCTION lonewatch_timeline_append_only('{COLUMN}');
"""
POSTGRES_DOWN = f"""
DROP TRIGGER IF EXISTS {TABLE}_append_only ON {TABLE};
DROP TRIGGER IF EXISTS {TABLE}_no_truncate ON {TABLE};
"""
SQLITE_UP = [
    f"""CREATE TRIGGER {TABLE}_no_update BEFORE UPDATE ON {TABLE}
    BEGIN SELECT RAISE(ABORT, '{TABLE} lines are append-only'); END""",
    f"""CREATE TRIGGER {TABLE}_no_delete BEFORE DELETE ON {TABLE}
    WHEN NOT EXISTS (SELECT 1 FROM lonewatch_timeline_purge AS p
                     WHERE p.tbl IN ('{TABLE}', '*')
                       AND (p.record_id IS NULL OR p.record_id = OLD.{COLUMN}))
    BEGIN SELECT RAISE(ABORT, '{TABLE} lines are append-only'); END""",  # noqa: S608
]
SQLITE_DOWN = [f"DROP TRIGGER IF EXISTS {TABLE}_no_update",
               f"DROP TRIGGER IF EXISTS {TABLE}_no_delete"]


def up(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES_UP)
    elif schema_editor.connection.vendor == "sqlite":
        for sql in SQLITE_UP:
            schema_editor.execute(sql)


def down(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES_DOWN)
    elif schema_editor.connection.vendor == "sqlite":
        for sql in SQLITE_DOWN:
            schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [("visits", "0005_sessionevent_drop_location"),
                    ("core", "0003_timeline_purge_permits")]
    operations = [migrations.RunPython(up, down)]
