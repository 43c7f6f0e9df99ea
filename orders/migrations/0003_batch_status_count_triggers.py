"""Triggers that keep orders_batchstatuscount equal to the orders' (batch, status) counts.

They run inside the statement that inserts, moves or deletes orders, so every code path
(transitions, bulk claims, imports, polling, hand-written updates) keeps the counts exact in
the same transaction. PostgreSQL: an import's INSERT is counted per statement (a 20,000-row
import is one grouped upsert), a status change per row, and only when the status, batch or
cost changed (a lease extension or a poll reschedule costs nothing). SQLite: row-level
triggers. The counts are then backfilled.
"""

from django.db import migrations

POSTGRESQL = [
    """
    CREATE FUNCTION orders_count_insert() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO orders_batchstatuscount (batch_id, status, orders, cost)
        SELECT batch_id, status, count(*), sum(cost) FROM new_rows GROUP BY 1, 2 ORDER BY 1, 2
        ON CONFLICT (batch_id, status) DO UPDATE
        SET orders = orders_batchstatuscount.orders + EXCLUDED.orders,
            cost = orders_batchstatuscount.cost + EXCLUDED.cost;
        RETURN NULL;
    END $$
    """,
    """
    CREATE FUNCTION orders_count_update() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        -- The two counter rows in (batch, status) order, so that two transactions moving
        -- orders in opposite directions (queued -> submitting, submitting -> queued) lock
        -- them in the same order and never deadlock.
        IF (OLD.batch_id, OLD.status) < (NEW.batch_id, NEW.status) THEN
            UPDATE orders_batchstatuscount SET orders = orders - 1, cost = cost - OLD.cost
            WHERE batch_id = OLD.batch_id AND status = OLD.status;
        END IF;
        INSERT INTO orders_batchstatuscount (batch_id, status, orders, cost)
        VALUES (NEW.batch_id, NEW.status, 1, NEW.cost)
        ON CONFLICT (batch_id, status) DO UPDATE
        SET orders = orders_batchstatuscount.orders + 1,
            cost = orders_batchstatuscount.cost + EXCLUDED.cost;
        IF (OLD.batch_id, OLD.status) >= (NEW.batch_id, NEW.status) THEN
            UPDATE orders_batchstatuscount SET orders = orders - 1, cost = cost - OLD.cost
            WHERE batch_id = OLD.batch_id AND status = OLD.status;
        END IF;
        RETURN NULL;
    END $$
    """,
    """
    CREATE FUNCTION orders_count_delete() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        -- Only UPDATE: a batch deleted with its orders has already lost its count rows.
        UPDATE orders_batchstatuscount c SET orders = c.orders - gone.n, cost = c.cost - gone.cost
        FROM (SELECT batch_id, status, count(*) AS n, sum(cost) AS cost
              FROM old_rows GROUP BY 1, 2) AS gone
        WHERE c.batch_id = gone.batch_id AND c.status = gone.status;
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER orders_count_insert AFTER INSERT ON orders_order
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION orders_count_insert()
    """,
    """
    CREATE TRIGGER orders_count_update AFTER UPDATE OF status, batch_id, cost ON orders_order
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status
                       OR OLD.batch_id IS DISTINCT FROM NEW.batch_id
                       OR OLD.cost IS DISTINCT FROM NEW.cost)
    EXECUTE FUNCTION orders_count_update()
    """,
    """
    CREATE TRIGGER orders_count_delete AFTER DELETE ON orders_order
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION orders_count_delete()
    """,
]
POSTGRESQL_DROP = [
    "DROP TRIGGER IF EXISTS orders_count_insert ON orders_order",
    "DROP TRIGGER IF EXISTS orders_count_update ON orders_order",
    "DROP TRIGGER IF EXISTS orders_count_delete ON orders_order",
    "DROP FUNCTION IF EXISTS orders_count_insert()",
    "DROP FUNCTION IF EXISTS orders_count_update()",
    "DROP FUNCTION IF EXISTS orders_count_delete()",
]

SQLITE = [
    """
    CREATE TRIGGER orders_count_insert AFTER INSERT ON orders_order BEGIN
        INSERT INTO orders_batchstatuscount (batch_id, status, orders, cost)
        VALUES (NEW.batch_id, NEW.status, 1, NEW.cost)
        ON CONFLICT (batch_id, status) DO UPDATE SET orders = orders + 1, cost = cost + NEW.cost;
    END
    """,
    """
    CREATE TRIGGER orders_count_update AFTER UPDATE OF status, batch_id, cost ON orders_order
    WHEN OLD.status IS NOT NEW.status OR OLD.batch_id IS NOT NEW.batch_id
        OR OLD.cost IS NOT NEW.cost BEGIN
        UPDATE orders_batchstatuscount SET orders = orders - 1, cost = cost - OLD.cost
        WHERE batch_id = OLD.batch_id AND status = OLD.status;
        INSERT INTO orders_batchstatuscount (batch_id, status, orders, cost)
        VALUES (NEW.batch_id, NEW.status, 1, NEW.cost)
        ON CONFLICT (batch_id, status) DO UPDATE SET orders = orders + 1, cost = cost + NEW.cost;
    END
    """,
    """
    CREATE TRIGGER orders_count_delete AFTER DELETE ON orders_order BEGIN
        UPDATE orders_batchstatuscount SET orders = orders - 1, cost = cost - OLD.cost
        WHERE batch_id = OLD.batch_id AND status = OLD.status;
    END
    """,
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS orders_count_insert",
    "DROP TRIGGER IF EXISTS orders_count_update",
    "DROP TRIGGER IF EXISTS orders_count_delete",
]

BACKFILL = [
    "DELETE FROM orders_batchstatuscount",
    """
    INSERT INTO orders_batchstatuscount (batch_id, status, orders, cost)
    SELECT batch_id, status, count(*), sum(cost) FROM orders_order GROUP BY batch_id, status
    """,
]


def run(schema_editor, statements):
    with schema_editor.connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def create(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        # Nothing may move an order between the backfill and the triggers taking over.
        run(schema_editor, ["LOCK TABLE orders_order IN SHARE ROW EXCLUSIVE MODE"])
        run(schema_editor, POSTGRESQL + BACKFILL)
    elif vendor == "sqlite":
        run(schema_editor, SQLITE + BACKFILL)


def drop(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    run(schema_editor, POSTGRESQL_DROP if vendor == "postgresql" else SQLITE_DROP)


class Migration(migrations.Migration):
    dependencies = [("orders", "0002_batch_status_counts")]

    operations = [migrations.RunPython(create, drop)]
