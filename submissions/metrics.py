"""What /metrics reads from the database at each scrape: the same for every host.

Counts come from the per-batch counters (a few rows per batch, never a scan of the orders),
the oldest queued order from the partial index on queued orders, one live batch at a time.
The provider calls themselves are counted by the processes that make them
(submissions/provider/metrics.py).
"""

from django.db.models import Sum
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily

from orders.models import Batch, BatchStatusCount, Order

from .driver import breaker
from .models import Dispatcher


class DatabaseCollector:
    def collect(self):
        now = timezone.now()
        yield orders_by_status()
        yield from queue(now)
        yield spend_by_service()
        yield breaker_open()
        yield heartbeat_age(now)


def orders_by_status():
    family = GaugeMetricFamily("portal_orders", "Orders by status.", labels=["status"])
    rows = dict(BatchStatusCount.objects.values_list("status").annotate(n=Sum("orders")).order_by())
    for status in Order.Status.values:
        family.add_metric([status], rows.get(status) or 0)
    return family


def queue(now):
    live = Batch.objects.filter(state__in=Batch.LIVE_STATES).values_list("pk", flat=True)
    queued = Order.objects.filter(status=Order.Status.QUEUED)
    oldest = [
        queued.filter(batch_id=pk).order_by("pk").values_list("created_at", flat=True).first()
        for pk in live
    ]
    oldest = min([at for at in oldest if at], default=None)
    waiting = BatchStatusCount.objects.filter(
        batch__state__in=Batch.LIVE_STATES, status=Order.Status.QUEUED
    ).aggregate(n=Sum("orders"))["n"]
    yield GaugeMetricFamily(
        "portal_queued_orders", "Orders queued in live batches.", value=waiting or 0
    )
    age = (now - oldest).total_seconds() if oldest else 0
    yield GaugeMetricFamily(
        "portal_oldest_queued_order_age_seconds",
        "Age of the oldest order queued in a live batch (0 when none is queued).",
        value=age,
    )


def spend_by_service():
    family = GaugeMetricFamily(
        "portal_spend_dollars", "What the orders cost, by service id.", labels=["service"]
    )
    rows = (
        BatchStatusCount.objects.values_list("batch__service_id")
        .annotate(cost=Sum("cost"))
        .order_by("batch__service_id")
    )
    for service_id, cost in rows:
        family.add_metric([str(service_id)], float(cost or 0))
    return family


def breaker_open():
    return GaugeMetricFamily(
        "portal_breaker_open",
        "1 while the circuit breaker holds sending back (provider unreachable), else 0.",
        value=1 if breaker.state().open else 0,
    )


def heartbeat_age(now):
    seen = Dispatcher.row().values_list("heartbeat_at", flat=True).first()
    return GaugeMetricFamily(
        "portal_cluster_heartbeat_age_seconds",
        "Seconds since a worker cluster last beat (-1: never).",
        value=(now - seen).total_seconds() if seen else -1,
    )
