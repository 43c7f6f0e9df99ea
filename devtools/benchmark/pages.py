"""The admin pages with a full database: bulk-inserted orders, then timed requests.

The extra orders look like finished batches of 20,000 (mostly completed with a parsed result,
some failed or rejected with grouped errors, a few pending), each with the call event its
batch page reads latencies from. The pages are timed with the Django test Client logged in
as a superuser: the full Django stack minus the network and the web server.
"""

import statistics
import time
from datetime import timedelta

from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone

from orders.models import Batch, Order, OrderEvent

from .phases import SERVICE_ID, imeis

FILL_BATCH = 20_000
INSERT_CHUNK = 5000
ERRORS = (
    "Rejected by the provider: Invalid_IMEI",
    "Gave up after 5 attempts: HTTP 502 from the provider",
    "Service Not Available!",
)
SEARCH_SIZE = 1000


def fill(total):
    """Insert orders until the database holds `total`; returns (inserted, seconds)."""
    started = time.perf_counter()
    missing = total - Order.objects.count()
    inserted = 0
    while inserted < missing:
        size = min(FILL_BATCH, missing - inserted)
        fill_batch(imeis("pages", size, start=inserted))
        inserted += size
    if connection.vendor == "postgresql":
        # A bulk load leaves the planner without statistics until autovacuum's ANALYZE runs;
        # a database that has lived with these rows has them.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    return inserted, round(time.perf_counter() - started, 1)


def fill_batch(imei_list):
    now = timezone.now()
    with transaction.atomic():
        batch = Batch.objects.create(
            service_id=SERVICE_ID, source_name="benchmark filler", state=Batch.State.DONE,
            created_at=now, started_at=now, finished_at=now,
        )  # fmt: skip
        for start in range(0, len(imei_list), INSERT_CHUNK):
            chunk = imei_list[start : start + INSERT_CHUNK]
            orders = Order.objects.bulk_create(
                filler_order(batch, n + start, imei, now) for n, imei in enumerate(chunk)
            )
            OrderEvent.objects.bulk_create(
                OrderEvent(
                    order=order,
                    batch=batch,
                    from_status=Order.Status.SUBMITTING,
                    to_status=order.status,
                    at=now,
                    latency_ms=1000 + n % 500,
                )  # fmt: skip
                for n, order in enumerate(orders)
            )


def filler_order(batch, n, imei, now):
    status, error = Order.Status.COMPLETED, ""
    if n % 50 == 1:
        status, error = Order.Status.FAILED, ERRORS[n % 3]
    elif n % 100 == 2:
        status, error = Order.Status.REJECTED, ERRORS[0]
    elif n % 200 == 3:
        status = Order.Status.PENDING
    final = status != Order.Status.PENDING
    return Order(
        batch=batch, service_id=SERVICE_ID, imei=imei, status=status, remote_id=10**8 + n,
        attempts=1, created_at=now - timedelta(minutes=30), submitted_at=now,
        finished_at=now if final else None, cost="0.08", last_error=error,
        carrier="T-Mobile" if status == Order.Status.COMPLETED else "",
        model_name="iPhone 13 Midnight 128GB" if status == Order.Status.COMPLETED else "",
    )  # fmt: skip


def median_ms(client, url, requests):
    """Median milliseconds of `requests` GETs after one warm-up; fails on a non-200."""
    times = []
    for i in range(requests + 1):
        started = time.perf_counter()
        response = client.get(url)
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise RuntimeError(f"GET {url[:80]} answered HTTP {response.status_code}")
        if i:
            times.append(elapsed)
    return round(statistics.median(times), 1)


def time_pages(client, config):
    """Fill the database, then time the batch page, its JSON, the list and a big search."""
    inserted, fill_seconds = fill(config.page_orders)
    batch = largest_batch()
    search = list(Order.objects.order_by("?").values_list("imei", flat=True)[:SEARCH_SIZE])
    base = "/admin/orders/"
    pages = {
        "batch_page_ms": f"{base}batch/{batch.pk}/change/",
        "batch_json_ms": f"{base}batch/{batch.pk}/progress.json",
        "changelist_ms": f"{base}order/",
        "search_1000_ms": f"{base}order/?q={'+'.join(search)}",
    }
    figures = {name: median_ms(client, url, config.page_requests) for name, url in pages.items()}
    figures.update(
        orders_in_database=Order.objects.count(),
        batch_orders=batch.orders.count(),
        search_imeis=len(search),
        inserted=inserted,
        fill_seconds=fill_seconds,
        requests_each=config.page_requests,
    )
    return figures


def largest_batch():
    return Batch.objects.annotate(n=Count("orders")).order_by("-n", "id").first()
