"""ALM-02: PostgreSQL announces new alarm events to every server process's hub.

One notification per inserting statement on the ``lonewatch_alarm_events`` channel;
PostgreSQL delivers it when the transaction commits (never for one that rolls back),
which is exactly when a console may be told. SQLite has no notifications: the hub
there looks at the highest id instead (lonewatch/alarms/hub.py).
"""

from django.db import migrations

POSTGRES_UP = """
CREATE OR REPLACE FUNCTION lonewatch_alarm_event_notify() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('lonewatch_alarm_events', '');
    RETURN NULL;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER alarm_event_notify AFTER INSERT ON alarms_alarmevent
    FOR EACH STATEMENT EXECUTE FUNCTION lonewatch_alarm_event_notify();
"""
POSTGRES_DOWN = """
DROP TRIGGER IF EXISTS alarm_event_notify ON alarms_alarmevent;
DROP FUNCTION IF EXISTS lonewatch_alarm_event_notify();
"""


def up(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES_UP)


def down(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES_DOWN)


class Migration(migrations.Migration):
    dependencies = [("alarms", "0002_audiochunk")]
    operations = [migrations.RunPython(up, down)]
