"""ORG-05: what lets the database refuse to change or remove a timeline line.

Each app's timeline table gets triggers (in that app's migrations) that refuse every
UPDATE and every DELETE, unless a purge permit for that table and record sits in
``lonewatch_timeline_purge``. Permits are written and removed inside the transaction
that deletes (retention, ``lonewatch flush``), so none is ever committed. The permit
table is not a model: ``flush`` leaves it alone.

On PostgreSQL one function serves every timeline table (its first argument names the
record's column) and refuses TRUNCATE as well.
"""

from django.db import migrations

CREATE_PERMITS = """
CREATE TABLE lonewatch_timeline_purge (
    tbl varchar(100) NOT NULL,
    record_id bigint NULL
)
"""
POSTGRES_UP = """
CREATE OR REPLACE FUNCTION lonewatch_timeline_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'TRUNCATE') AND EXISTS (
        SELECT 1 FROM lonewatch_timeline_purge AS p
        WHERE p.tbl IN (TG_TABLE_NAME, '*')
          AND (p.record_id IS NULL OR (TG_OP = 'DELETE'
               AND p.record_id = (to_jsonb(OLD) ->> TG_ARGV[0])::bigint))) THEN
        IF TG_OP = 'DELETE' THEN
            RETURN OLD;
        END IF;
        RETURN NULL;
    END IF;
    RAISE EXCEPTION '% lines are append-only', TG_TABLE_NAME;
END $$ LANGUAGE plpgsql;
"""
POSTGRES_DOWN = "DROP FUNCTION IF EXISTS lonewatch_timeline_append_only();"


def up(apps, schema_editor):
    schema_editor.execute(CREATE_PERMITS)
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES_UP, params=None)  # no placeholders: % is plpgsql


def down(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES_DOWN)
    schema_editor.execute("DROP TABLE IF EXISTS lonewatch_timeline_purge")


class Migration(migrations.Migration):
    dependencies = [("core", "0002_audit_append_only")]
    operations = [migrations.RunPython(up, down)]
