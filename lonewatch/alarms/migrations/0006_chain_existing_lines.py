"""ORG-05: existing alarm timeline lines get their place in their alarm's chain, in
time order, and their positions move to rows of their own."""

from django.db import migrations

from lonewatch.core.timeline import GENESIS, at_text, data_text, line_hash

ALARMS_PER_BATCH = 500


def forwards(apps, schema_editor):
    AlarmEvent = apps.get_model("alarms", "AlarmEvent")
    AlarmPosition = apps.get_model("alarms", "AlarmPosition")
    located = AlarmEvent.objects.filter(lat__isnull=False, lon__isnull=False)
    AlarmPosition.objects.bulk_create(
        [AlarmPosition(event_id=e.pk, lat=e.lat, lon=e.lon, accuracy_m=e.accuracy_m)
         for e in located],
        batch_size=1000)
    alarms = sorted(set(AlarmEvent.objects.values_list("alarm_id", flat=True)))
    for start in range(0, len(alarms), ALARMS_PER_BATCH):
        batch = alarms[start:start + ALARMS_PER_BATCH]
        lines = list(AlarmEvent.objects.filter(alarm_id__in=batch).order_by("alarm_id", "at", "id"))
        record, seq, prev = None, 0, GENESIS
        for line in lines:
            if line.alarm_id != record:
                record, seq, prev = line.alarm_id, 0, GENESIS
            seq += 1
            line.seq, line.prev_hash = seq, prev
            line.hash = line_hash("alarm", record, seq, at_text(line.at), line.kind,
                                  line.actor_id, line.summary, data_text(line.data), prev)
            prev = line.hash
        AlarmEvent.objects.bulk_update(lines, ["seq", "prev_hash", "hash"], batch_size=1000)


class Migration(migrations.Migration):
    dependencies = [("alarms", "0005_alarmposition_chain")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
