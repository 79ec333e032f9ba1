# Deliveries refer to what they are about by a plain reference (kind, id) instead of
# foreign keys to sessions and escalations: notify knows people, not visits.

from django.db import migrations, models


def forwards(apps, schema_editor):
    Delivery = apps.get_model("notify", "Delivery")
    Delivery.objects.filter(escalation__isnull=False).update(
        about_kind="escalation", about_id=models.F("escalation_id"))
    Delivery.objects.filter(escalation__isnull=True, session__isnull=False).update(
        about_kind="session", about_id=models.F("session_id"))


class Migration(migrations.Migration):

    dependencies = [
        ('notify', '0002_channelproof'),
        ('org', '0004_person_description'),
    ]

    operations = [
        migrations.AddField(
            model_name='delivery',
            name='about_id',
            field=models.BigIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='delivery',
            name='about_kind',
            field=models.CharField(blank=True, max_length=30),
        ),
        migrations.RunPython(forwards, migrations.RunPython.noop),
        migrations.RemoveField(
            model_name='delivery',
            name='escalation',
        ),
        migrations.RemoveField(
            model_name='delivery',
            name='session',
        ),
        migrations.AddIndex(
            model_name='delivery',
            index=models.Index(fields=['about_kind', 'about_id'], name='delivery_about_idx'),
        ),
    ]
