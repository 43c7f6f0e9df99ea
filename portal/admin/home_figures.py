"""The admin index's figures: today's orders and spend, open batches, provider health, problems.

Each is a few aggregate queries on indexed columns or the per-batch counters; see stats.py for
the batch page's.
"""

from datetime import timedelta

from django.db.models import Count, Sum
from django.utils import timezone

from orders.models import Batch, BatchStatusCount, Order
from submissions.driver import breaker

from .stats import (
    LATENCY_SAMPLE,
    call_events,
    counts_by_batch,
    dispatcher_limits,
    latency_summary,
    money,
    order_list_url,
    percent,
    summarise,
)


def today_summary(now=None):
    now = timezone.localtime(now or timezone.now())
    start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    summary = Order.objects.filter(created_at__gte=start).aggregate(
        orders=Count("id"), spend=Sum("cost")
    )
    return {"orders": summary["orders"], "spend": money(summary["spend"])}


def open_batches(limit=10):
    """Batches still moving, with the counts their bars need (two small queries)."""
    batches = list(
        Batch.objects.filter(
            state__in=[*Batch.LIVE_STATES, Batch.State.PAUSED, Batch.State.AWAITING_APPROVAL]
        )
        .select_related("service")
        .order_by("-created_at")[:limit]
    )
    figures = counts_by_batch([batch.pk for batch in batches])
    for batch in batches:
        for name, value in summarise(figures[batch.pk][0]).items():
            setattr(batch, name, value)
    return batches


def provider_health(now=None):
    """Last success/error, and latency and errors of the last hour's calls (the last 1,000)."""
    now = now or timezone.now()
    sample = list(
        call_events()
        .filter(at__gte=now - timedelta(hours=1))
        .order_by("-at")
        .values_list("latency_ms", "to_status")[:LATENCY_SAMPLE]
    )
    errors = sum(1 for _, status in sample if status in Order.CALL_ERROR_STATUSES)
    _, _, dispatcher = dispatcher_limits()
    return {
        "dispatcher": dispatcher,
        "breaker": breaker.state().describe(now),
        "latency": latency_summary([ms for ms, _ in sample]),
        "calls": len(sample),
        "errors": errors,
        "error_percent": percent(errors, len(sample)),
    }


def problem_orders():
    """Failed and unknown orders across all batches (summed counters), with links to them."""
    counts = dict(
        BatchStatusCount.objects.filter(status__in=Order.PROBLEM_STATUSES)
        .order_by()
        .values_list("status")
        .annotate(n=Sum("orders"))
    )
    return [
        {
            "status": status,
            "label": status.label,
            "count": counts.get(status) or 0,
            "url": order_list_url(status__exact=status),
        }
        for status in Order.PROBLEM_STATUSES
    ]
