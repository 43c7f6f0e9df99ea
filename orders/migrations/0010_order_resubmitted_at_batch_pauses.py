"""A re-submitted order's age counts from its re-submit; a batch's pauses leave its elapsed time.

Nullable columns (and one with a constant default): no table rewrite on PostgreSQL.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0009_spend_approval"),
    ]

    operations = [
        migrations.AddField(
            model_name="order",
            name="resubmitted_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="batch",
            name="paused_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="batch",
            name="paused_seconds",
            field=models.FloatField(default=0),
        ),
        migrations.AddField(
            model_name="batch",
            name="resumed_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
