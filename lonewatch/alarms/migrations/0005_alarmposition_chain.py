# ORG-05: alarm timelines become a hash chain per alarm; positions move to rows of
# their own.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('alarms', '0004_audiochunk_starts_take'),
    ]

    operations = [
        migrations.CreateModel(
            name='AlarmPosition',
            fields=[
                ('event', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='position', serialize=False, to='alarms.alarmevent')),
                ('lat', models.FloatField()),
                ('lon', models.FloatField()),
                ('accuracy_m', models.FloatField(blank=True, null=True)),
            ],
        ),
        migrations.AddField(
            model_name='alarmevent',
            name='seq',
            field=models.PositiveIntegerField(default=0),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name='alarmevent',
            name='prev_hash',
            field=models.CharField(default='', max_length=64),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name='alarmevent',
            name='hash',
            field=models.CharField(default='', max_length=64),
            preserve_default=False,
        ),
        migrations.AlterField(
            model_name='alarmevent',
            name='alarm',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='events', to='alarms.alarm'),
        ),
    ]
