"""ALM-07: a webhook message carries the facts its receiver reads beside the text
(for an alarm, the alarm and the change to it). Existing messages get none."""

import django.core.serializers.json
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('notify', '0004_delivery_claimed_by'),
    ]

    operations = [
        migrations.AddField(
            model_name='delivery',
            name='payload',
            field=models.JSONField(blank=True, default=dict, encoder=django.core.serializers.json.DjangoJSONEncoder),
        ),
    ]
