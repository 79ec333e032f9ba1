"""ORG-05, MOV-05: existing timeline lines get their place in their session's chain,
in time order, and their positions move to rows of their own."""

from django.db import migrations

from lonewatch.core.timeline import GENESIS, at_text, data_text, line_hash

SESSIONS_PER_BATCH = 500


def forwards(apps, schema_editor):
    SessionEvent = apps.get_model("visits", "SessionEvent")
    SessionPosition = apps.get_model("visits", "SessionPosition")
    located = SessionEvent.objects.filter(lat__isnull=False, lon__isnull=False)
    SessionPosition.objects.bulk_create(
        [SessionPosition(event_id=e.pk, lat=e.lat, lon=e.lon, accuracy_m=e.accuracy_m)
         for e in located],
        batch_size=1000)
    sessions = sorted(set(SessionEvent.objects.values_list("session_id", flat=True)))
    for start in range(0, len(sessions), SESSIONS_PER_BATCH):
        batch = sessions[start:start + SESSIONS_PER_BATCH]
        lines = list(SessionEvent.objects.filter(session_id__in=batch)
                     .order_by("session_id", "at", "id"))
        record, seq, prev = None, 0, GENESIS
        for line in lines:
            if line.session_id != record:
                record, seq, prev = line.session_id, 0, GENESIS
            seq += 1
            line.seq, line.prev_hash = seq, prev
            line.hash = line_hash("session", record, seq, at_text(line.at), line.kind,
                                  line.actor_id, line.summary, data_text(line.data), prev)
            prev = line.hash
        SessionEvent.objects.bulk_update(lines, ["seq", "prev_hash", "hash"], batch_size=1000)


class Migration(migrations.Migration):
    dependencies = [("visits", "0003_sessionposition_chain")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
