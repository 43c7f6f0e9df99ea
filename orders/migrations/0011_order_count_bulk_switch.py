"""PostgreSQL: a statement that moves many queued orders at once may keep the counters itself.

The row triggers on orders_order run once per moved order: fine for the driver's handfuls,
but a 20,000-order cancel in one transaction updates the same two counter rows 20,000 times
each (22 s measured) and runs the spend-ledger function 20,000 times for nothing (queued ->
cancelled writes no spend line). With `orders.bulk_counts` set to 'on' for its transaction,
both triggers skip the rows and the caller adjusts the counters by the totals
(Order.objects.cancel_queued, the only user). Every other code path is unchanged. SQLite: nothing to
do (its row triggers cost ~0.5 s for 20,000).
"""

from django.db import migrations

SWITCH = "current_setting('orders.bulk_counts', true) IS DISTINCT FROM 'on'"
COUNTS_WHEN = """(OLD.status IS DISTINCT FROM NEW.status
                       OR OLD.batch_id IS DISTINCT FROM NEW.batch_id
                       OR OLD.cost IS DISTINCT FROM NEW.cost)"""
SPEND_WHEN = "(OLD.status IS DISTINCT FROM NEW.status)"
# name: (columns, function, WHEN without the switch)
TRIGGERS = {
    "orders_count_update": ("status, batch_id, cost", "orders_count_update", COUNTS_WHEN),
    "orders_spend_line": ("status", "orders_spend_line", SPEND_WHEN),
}


def replace(switched):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        with schema_editor.connection.cursor() as cursor:
            for name, (columns, function, when) in TRIGGERS.items():
                when = f"{when} AND {SWITCH}" if switched else when
                cursor.execute(f"DROP TRIGGER IF EXISTS {name} ON orders_order")
                cursor.execute(
                    f"CREATE TRIGGER {name} AFTER UPDATE OF {columns} ON orders_order "
                    f"FOR EACH ROW WHEN ({when}) EXECUTE FUNCTION {function}()"
                )

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0010_order_resubmitted_at_batch_pauses"),
        ("submissions", "0011_spend_trigger"),
    ]

    operations = [
        migrations.RunPython(replace(switched=True), replace(switched=False), elidable=False),
    ]
