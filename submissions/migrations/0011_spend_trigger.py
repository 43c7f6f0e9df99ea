"""The spend ledger's trigger: every order status change that moves money writes its line.

Like the status counters (orders/migrations/0003), a trigger sees every code path that moves
an order (claims, grouped recording, polling, sweeps, re-submits) inside the transaction
that moves it. Per changed row, it computes the order's line from the move and what the
order holds now (the sum of its lines), then writes the line to the ledger and its delta to
the pending queue that claims fold into the day totals (submissions/spend.py):

    queued -> submitting                                 reserve  + the service's price
    submitting|unknown -> pending|in_process|completed|rejected,
                          duplicate with a cost          charge   the order's cost - held
    submitting|unknown -> queued|failed|cancelled|duplicate (no cost)
                                                         release  - held
    pending|in_process -> rejected, the service refunds  refund   - held

`submitting -> unknown` writes nothing: the order may have been charged, so it stays reserved.
"""

from django.db import migrations

LINE = """
    SELECT NEW.id AS order_id, NEW.service_id AS service_id, NEW.batch_id AS batch_id, m.kind,
        CASE m.kind WHEN 'reserve' THEN m.price WHEN 'charge' THEN NEW.cost ELSE m.held END
            AS amount,
        CASE m.kind WHEN 'reserve' THEN m.price WHEN 'charge' THEN NEW.cost - m.held
            ELSE -m.held END AS delta,
        {now} AS at
    FROM (
        SELECT s.price AS price,
            (SELECT COALESCE(SUM(e.delta), 0) FROM submissions_spendentry e
             WHERE e.order_id = NEW.id) AS held,
            CASE
                WHEN OLD.status = 'queued' AND NEW.status = 'submitting' THEN 'reserve'
                WHEN OLD.status IN ('submitting', 'unknown')
                    AND (NEW.status IN ('pending', 'in_process', 'completed', 'rejected')
                         OR (NEW.status = 'duplicate' AND NEW.cost > 0)) THEN 'charge'
                WHEN OLD.status IN ('submitting', 'unknown')
                    AND NEW.status IN ('queued', 'failed', 'cancelled', 'duplicate')
                    THEN 'release'
                WHEN OLD.status IN ('pending', 'in_process') AND NEW.status = 'rejected'
                    AND s.refunds_rejected THEN 'refund'
            END AS kind
        FROM orders_service s WHERE s.id = NEW.service_id
    ) m
    WHERE m.kind IS NOT NULL AND (m.kind IN ('reserve', 'charge') OR m.held <> 0)
"""

# The pending delta first: both statements read what the order held before this move.
BODY = f"""
    INSERT INTO submissions_spendpending (service_id, delta, at)
    SELECT service_id, delta, at FROM ({LINE}) line WHERE delta <> 0;
    INSERT INTO submissions_spendentry (order_id, service_id, batch_id, kind, amount, delta, at)
    SELECT order_id, service_id, batch_id, kind, amount, delta, at FROM ({LINE}) line;
"""

POSTGRESQL = [
    f"""
    CREATE FUNCTION orders_spend_line() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        {BODY.format(now="now()")}
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER orders_spend_line AFTER UPDATE OF status ON orders_order
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION orders_spend_line()
    """,
]
POSTGRESQL_DROP = [
    "DROP TRIGGER IF EXISTS orders_spend_line ON orders_order",
    "DROP FUNCTION IF EXISTS orders_spend_line()",
]
SQLITE = [
    f"""
    CREATE TRIGGER orders_spend_line AFTER UPDATE OF status ON orders_order
    WHEN OLD.status IS NOT NEW.status BEGIN
        {BODY.format(now="strftime('%Y-%m-%d %H:%M:%f', 'now')")}
    END
    """
]
SQLITE_DROP = ["DROP TRIGGER IF EXISTS orders_spend_line"]


def run(schema_editor, statements):
    with schema_editor.connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def create(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        run(schema_editor, POSTGRESQL)
    elif vendor == "sqlite":
        run(schema_editor, SQLITE)


def drop(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    run(schema_editor, POSTGRESQL_DROP if vendor == "postgresql" else SQLITE_DROP)


class Migration(migrations.Migration):
    dependencies = [("submissions", "0010_spend_ledger"), ("orders", "0009_spend_approval")]

    operations = [migrations.RunPython(create, drop)]
