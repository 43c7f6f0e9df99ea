"""PostgreSQL: a statement that moves many orders at once may keep the counters itself.

The row trigger of 0003 runs once per moved order: fine for the driver's handfuls, but a
20,000-order cancel in one transaction updates the same two counter rows 20,000 times each
(22 s measured). With `orders.bulk_counts` set to 'on' for the transaction, the trigger is
skipped and the caller adjusts the counters by the totals (Order.cancel_queued). Every other
code path is unchanged. SQLite: nothing to do (its row triggers cost ~0.5 s for 20,000).
"""

from django.db import migrations

WHEN_CHANGED = """(OLD.status IS DISTINCT FROM NEW.status
                       OR OLD.batch_id IS DISTINCT FROM NEW.batch_id
                       OR OLD.cost IS DISTINCT FROM NEW.cost)"""
SWITCH = "current_setting('orders.bulk_counts', true) IS DISTINCT FROM 'on'"


def trigger(when):
    return f"""
    CREATE TRIGGER orders_count_update AFTER UPDATE OF status, batch_id, cost ON orders_order
    FOR EACH ROW WHEN ({when})
    EXECUTE FUNCTION orders_count_update()
    """


def replace(when):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        with schema_editor.connection.cursor() as cursor:
            cursor.execute("DROP TRIGGER IF EXISTS orders_count_update ON orders_order")
            cursor.execute(trigger(when))

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0010_order_resubmitted_at_batch_pauses"),
    ]

    operations = [
        migrations.RunPython(
            replace(f"{WHEN_CHANGED} AND {SWITCH}"), replace(WHEN_CHANGED), elidable=False
        ),
    ]
