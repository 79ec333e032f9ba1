# MOV-05: a timeline line no longer holds a location (see SessionPosition); ORG-05: one
# line per place in each session's chain.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('visits', '0004_chain_existing_lines'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='sessionevent',
            name='session_event_idx',
        ),
        migrations.RemoveField(
            model_name='sessionevent',
            name='accuracy_m',
        ),
        migrations.RemoveField(
            model_name='sessionevent',
            name='lat',
        ),
        migrations.RemoveField(
            model_name='sessionevent',
            name='lon',
        ),
        migrations.AddConstraint(
            model_name='sessionevent',
            constraint=models.UniqueConstraint(fields=('session', 'seq'), name='session_event_seq_unique'),
        ),
        migrations.AlterField(
            model_name='sessionevent',
            name='session',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='events', to='visits.session'),
        ),
    ]
