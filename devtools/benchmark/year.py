"""`benchmark --preset year`: a year-sized database on PostgreSQL, and every daily page timed.

Seeds 2,000,000 orders in 100 batches of 20,000 (one a day, the newest still running) and
three timeline events per order with set-based SQL (generate_series), then VACUUM ANALYZE;
a database that already holds them is reused. Then times each page with the Django test
Client (server time, DEBUG off): median of 5 after one warm-up.
"""

import time

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection

from orders.models import Batch, Order, OrderEvent

from . import phases
from .pages import median_ms

BATCHES = 100
PER_BATCH = 20_000
EVENTS_PER_ORDER = 3
PASTED = 1000
# The newest batch is running: 30 % final, 10 % waiting for a result, the rest queued.
SEED_SQL = [
    """
    INSERT INTO orders_batch (service_id, created_by_id, source_name, created_at, started_at,
                              finished_at, state, note, priority, paused_seconds)
    SELECT %(service)s, %(user)s, 'day-' || d || '.csv',
           now() - (%(batches)s - d) * interval '1 day',
           now() - (%(batches)s - d) * interval '1 day' + interval '1 minute',
           CASE WHEN d < %(batches)s
                THEN now() - (%(batches)s - d) * interval '1 day' + interval '61 minutes' END,
           CASE WHEN d < %(batches)s THEN 'done' ELSE 'running' END, '', 'normal', 0
    FROM generate_series(1, %(batches)s) AS d
    """,
    """
    INSERT INTO orders_order (batch_id, service_id, imei, status, remote_id, placed_without_id,
        attempts, last_error, created_at, submitted_at, finished_at, next_poll_at, cost,
        result_code, result_text, model_name, carrier, simlock, fmi, imei2, serial,
        gsma_status, purchase_date, applecare)
    SELECT b.id, %(service)s, s.imei, s.status,
           CASE WHEN s.status IN ('queued', 'failed') THEN NULL ELSE 10000000 + g END,
           false, CASE WHEN s.status = 'queued' THEN 0 ELSE 1 END,
           CASE s.status WHEN 'failed' THEN 'Gave up after 5 attempts: HTTP 502'
                         WHEN 'rejected' THEN 'Rejected by the provider: Invalid_IMEI'
                         ELSE '' END,
           b.created_at, CASE WHEN s.status <> 'queued' THEN b.started_at END,
           CASE WHEN s.status IN ('completed', 'rejected', 'failed') THEN b.started_at
                + interval '20 minutes' END,
           CASE WHEN s.status IN ('pending', 'in_process') THEN now() + interval '1 minute' END,
           CASE WHEN s.status IN ('queued', 'failed') THEN 0 ELSE 0.08 END,
           '', CASE WHEN s.status = 'completed' THEN 'Carrier: ' || s.carrier ELSE '' END,
           CASE WHEN s.status = 'completed' THEN 'iPhone 1' || (g %% 6) || ' 128GB' ELSE '' END,
           CASE WHEN s.status = 'completed' THEN s.carrier ELSE '' END,
           CASE WHEN s.status = 'completed' THEN 'Locked' ELSE '' END,
           CASE WHEN s.status = 'completed' THEN 'ON' ELSE '' END, '', '', '', '', ''
    FROM generate_series(1, %(orders)s) AS g
    JOIN (SELECT id, created_at, started_at, state, row_number() OVER (ORDER BY id) AS n
          FROM orders_batch) AS b ON b.n = (g - 1) / %(per_batch)s + 1
    CROSS JOIN LATERAL (SELECT
        '35' || lpad(g::text, 13, '0') AS imei,
        (ARRAY['T-Mobile', 'AT&T', 'Verizon', 'Unlocked'])[g %% 4 + 1] AS carrier,
        CASE WHEN b.state = 'running' THEN
                 CASE WHEN (g - 1) %% %(per_batch)s < %(per_batch)s * 3 / 10 THEN 'completed'
                      WHEN (g - 1) %% %(per_batch)s < %(per_batch)s * 4 / 10 THEN 'pending'
                      ELSE 'queued' END
             WHEN g %% 50 = 1 THEN 'failed' WHEN g %% 100 = 2 THEN 'rejected'
             ELSE 'completed' END AS status) AS s
    """,
    """
    INSERT INTO orders_orderevent (order_id, batch_id, from_status, to_status, at, latency_ms,
                                   detail)
    SELECT o.id, o.batch_id,
           (ARRAY['queued', 'submitting', 'pending'])[e],
           CASE e WHEN 1 THEN 'submitting' WHEN 2 THEN 'pending' ELSE o.status END,
           coalesce(o.submitted_at, o.created_at) + e * interval '10 seconds',
           CASE WHEN e = 2 THEN 800 + o.id %% 700 END, ''
    FROM orders_order o CROSS JOIN generate_series(1, %(events)s) AS e
    WHERE o.status <> 'queued' AND NOT (o.status = 'pending' AND e = 3)
    """,
]


RECOUNT_SQL = """
    INSERT INTO orders_batchstatuscount (batch_id, status, orders, cost)
    SELECT batch_id, status, count(*), sum(cost) FROM orders_order GROUP BY batch_id, status
"""


def seed(user, service, batches=BATCHES, per_batch=PER_BATCH):
    """Write the year's batches, orders and events; returns seconds taken."""
    started = time.perf_counter()
    params = {
        "service": service.pk, "user": user.pk, "batches": batches, "per_batch": per_batch,
        "orders": batches * per_batch, "events": EVENTS_PER_ORDER,
    }  # fmt: skip
    with connection.cursor() as cursor:
        # Trusted rows, consistent by construction: skip the per-row foreign-key checks (and the
        # counter triggers), then count once.
        cursor.execute("SET session_replication_role = replica")
        try:
            for statement in SEED_SQL:
                cursor.execute(statement, params)
        finally:
            cursor.execute("SET session_replication_role = DEFAULT")
        cursor.execute(RECOUNT_SQL)
        cursor.execute("VACUUM ANALYZE")
    return round(time.perf_counter() - started, 1)


def page_urls(client, pasted=PASTED):
    running = Batch.objects.filter(state=Batch.State.RUNNING).order_by("-pk").first()
    old = Batch.objects.filter(state=Batch.State.DONE).order_by("pk").first()
    order = Order.objects.filter(batch=old).order_by("pk").first()
    words = "T-Mobile"
    # Spread the pasted IMEIs over the year: every 2,000th order.
    orders = Order.objects.count()
    imeis = [f"35{n:013d}" for n in range(1, orders + 1, max(orders // pasted, 1))]
    pasted_list = client.post("/admin/orders/order/imeis/", {"imeis": "\n".join(imeis)})
    base = "/admin/orders/"
    return {
        "batch changelist": f"{base}batch/",
        "one IMEI in the order search box": f"{base}order/?q={order.imei}",
        f"order search for a word ({words})": f"{base}order/?q={words}",
        "order changelist": f"{base}order/",
        "order changelist, status = failed": f"{base}order/?status__exact=failed",
        "admin index (dashboard)": "/admin/",
        f"running batch page ({running.orders.count():,} orders)": (
            f"{base}batch/{running.pk}/change/"
        ),
        "its progress JSON": f"{base}batch/{running.pk}/progress.json",
        "an old batch page": f"{base}batch/{old.pk}/change/",
        f"{len(imeis):,} IMEIs pasted in the many-IMEIs box": pasted_list["Location"],
        "one order page": f"{base}order/{order.pk}/change/",
    }


GOALS = {
    "batch changelist": 300,
    "one IMEI in the order search box": 150,
    "order search for a word (T-Mobile)": 300,
    "order changelist": 300,
    "order changelist, status = failed": 300,
    "admin index (dashboard)": 300,
    "running batch page (20,000 orders)": 200,
    "its progress JSON": 50,
    "an old batch page": 200,
    "1,000 IMEIs pasted in the many-IMEIs box": 300,
    "one order page": 100,  # "keep": 60 ms before
}


def table(figures):
    lines = ["| page | server time, median of 5 | goal |", "| --- | --- | --- |"]
    for name, ms in figures.items():
        goal = GOALS.get(name)
        verdict = "" if goal is None else (" ok" if ms <= goal else " MISSED")
        lines.append(f"| {name} | {ms:,.0f} ms{verdict} | <= {goal or '?'} ms |")
    return "\n".join(lines)


def run(config, log):
    if connection.vendor != "postgresql":
        raise RuntimeError("--preset year needs a PostgreSQL --database")
    call_command("migrate", interactive=False, verbosity=0)
    user, _ = get_user_model().objects.get_or_create(
        username="benchmark", defaults={"is_staff": True, "is_superuser": True}
    )
    service = phases.ensure_service()
    existing = Order.objects.count()
    results = {"orders": existing, "seed_seconds": None, "debug": settings.DEBUG}
    if existing == 0:
        log(f"Seeding {BATCHES * PER_BATCH:,} orders in {BATCHES} batches and their events")
        results["seed_seconds"] = seed(user, service)
        results["orders"] = Order.objects.count()
        log(f"Seeded in {results['seed_seconds']} s")
    elif existing != BATCHES * PER_BATCH:
        raise RuntimeError(f"The database holds {existing:,} orders; use --recreate-database")
    client = phases.admin_client(user)
    urls = page_urls(client)
    results["pages_ms"] = {}
    for name, url in urls.items():
        results["pages_ms"][name] = median_ms(client, url, config.page_requests)
        log(f"  {name}: {results['pages_ms'][name]:,.0f} ms")
    results["urls"] = urls
    results["events"] = OrderEvent.objects.count()
    return results
