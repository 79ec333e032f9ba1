# ORG-05, MOV-05: session timelines become a hash chain per session; positions move to
# rows of their own.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('visits', '0002_alter_sessionevent_kind'),
    ]

    operations = [
        migrations.CreateModel(
            name='SessionPosition',
            fields=[
                ('event', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='position', serialize=False, to='visits.sessionevent')),
                ('lat', models.FloatField()),
                ('lon', models.FloatField()),
                ('accuracy_m', models.FloatField(blank=True, null=True)),
            ],
        ),
        migrations.AddField(
            model_name='sessionevent',
            name='seq',
            field=models.PositiveIntegerField(default=0),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name='sessionevent',
            name='prev_hash',
            field=models.CharField(default='', max_length=64),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name='sessionevent',
            name='hash',
            field=models.CharField(default='', max_length=64),
            preserve_default=False,
        ),
        migrations.AlterField(
            model_name='sessionevent',
            name='kind',
            field=models.CharField(choices=[('started', 'Session started'), ('checked_in', 'Checked in'), ('extended', 'Running late'), ('ended', 'Session ended'), ('reminder', 'Reminder sent'), ('deadline_missed', 'Check-in missed'), ('step_fired', 'Escalation step'), ('delivery', 'Message delivered'), ('delivery_failed', 'Message failed'), ('acknowledged', 'Acknowledged'), ('resolved', 'Resolved'), ('watchdog', 'Watchdog'), ('location', 'Location'), ('pin_failed', 'Wrong check-out PIN'), ('positions_purged', 'Locations deleted')], max_length=30),
        ),
        migrations.AlterField(
            model_name='sessionevent',
            name='session',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='events', to='visits.session'),
        ),
    ]
