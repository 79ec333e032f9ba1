# ORG-05: one line per place in each alarm's chain; a line's location is an
# AlarmPosition of its own.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('alarms', '0006_chain_existing_lines'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='alarmevent',
            name='alarm_event_idx',
        ),
        migrations.RemoveField(
            model_name='alarmevent',
            name='accuracy_m',
        ),
        migrations.RemoveField(
            model_name='alarmevent',
            name='lat',
        ),
        migrations.RemoveField(
            model_name='alarmevent',
            name='lon',
        ),
        migrations.AddConstraint(
            model_name='alarmevent',
            constraint=models.UniqueConstraint(fields=('alarm', 'seq'), name='alarm_event_seq_unique'),
        ),
        migrations.AlterField(
            model_name='alarmevent',
            name='alarm',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='events', to='alarms.alarm'),
        ),
    ]
