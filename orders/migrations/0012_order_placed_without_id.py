from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0011_order_count_bulk_switch"),
    ]

    operations = [
        migrations.RenameField(
            model_name="order",
            old_name="placed_id_unknown",
            new_name="placed_without_id",
        ),
    ]
