"""Aggregate numbers for the batch page, its JSON endpoint and the admin index.

Every figure comes from a handful of aggregate queries (one GROUP BY status, one aggregate, one
capped latency sample, one GROUP BY last_error), never a loop over orders: a batch holds up to
20,000 of them and its page asks again every few seconds.
"""

import math
from datetime import timedelta
from decimal import Decimal
from urllib.parse import urlencode

from django.conf import settings
from django.db.models import Count, Q, Sum
from django.urls import reverse
from django.utils import timezone

from orders.models import Batch, Order, OrderEvent
from submissions import breaker
from submissions.models import Dispatcher

Status = Order.Status
WINDOW = timedelta(minutes=5)
LATENCY_SAMPLE = 1000
ERROR_GROUPS = 10
CENT = Decimal("0.01")
# Where a provider call (placeorder) can take an order: what it answered, or how it failed.
CALL_OUTCOME_STATUSES = [s for s in Status.values if s not in (Status.SUBMITTING, Status.CANCELLED)]


def status_counts(orders):
    """{status: count} for every status, zeros included: one GROUP BY."""
    counts = dict.fromkeys(Status.values, 0)
    counts.update(orders.order_by().values_list("status").annotate(n=Count("id")))
    return counts


def percent(part, total):
    """Floored to 0.1 %: 19,999 of 20,000 shows 99.9 %, never 100 % while one is left."""
    if not total:
        return 0.0
    return (part * 1000 // total) / 10


def percentile(sorted_values, p):
    """Nearest-rank percentile of an already sorted list; None when it is empty."""
    if not sorted_values:
        return None
    rank = max(math.ceil(p / 100 * len(sorted_values)) - 1, 0)
    return sorted_values[rank]


def call_events():
    """Events written when a placeorder call ended (answered or failed), with a latency."""
    return OrderEvent.objects.filter(
        from_status=Status.SUBMITTING,
        to_status__in=CALL_OUTCOME_STATUSES,
        latency_ms__isnull=False,
    )


def latency_sample(events, limit=LATENCY_SAMPLE):
    """The latencies (ms) of the last `limit` calls, sorted: one capped query."""
    rows = events.order_by("-at").values_list("latency_ms", flat=True)[:limit]
    return sorted(rows)


def latency_summary(events):
    sample = latency_sample(events)
    mean = sum(sample) / len(sample) if sample else None
    return {
        "p50": percentile(sample, 50),
        "p95": percentile(sample, 95),
        "mean": mean,
        "calls": len(sample),
    }


def dispatcher_limits():
    """(concurrency, rate per minute or None, dispatcher or None): read-only, never created."""
    dispatcher = Dispatcher.row().first()
    concurrency = settings.SUBMIT_CONCURRENCY
    rate = settings.SUBMIT_RATE_PER_MINUTE or None
    if dispatcher is not None:
        concurrency = dispatcher.effective_concurrency or concurrency
    return concurrency, rate, dispatcher


def activity_window(batch, now):
    """The last 5 minutes, or less for a batch younger than that (at least one minute)."""
    age = now - (batch.started_at or batch.created_at)
    return min(max(age, timedelta(minutes=1)), WINDOW)


def recent_activity(orders, now, window=WINDOW):
    since = now - window
    return orders.order_by().aggregate(
        cost=Sum("cost"),
        sent_recently=Count("id", filter=Q(submitted_at__gte=since)),
        finished_recently=Count("id", filter=Q(finished_at__gte=since)),
    )


def money(amount):
    """'12.34': SQLite sums decimals as floats, so round to the cent here."""
    return str(Decimal(amount or 0).quantize(CENT))


def per_minute(count, window=WINDOW):
    return round(count / (window.total_seconds() / 60), 1)


def eta_seconds(remaining, rate_per_minute, fallback=None):
    """Seconds left at the recent rate; `fallback` when nothing moved recently."""
    if remaining == 0:
        return 0
    if rate_per_minute:
        return round(remaining / rate_per_minute * 60)
    return fallback


def send_fallback_eta(remaining, latency, concurrency):
    """Before any throughput is measured: remaining x mean latency / concurrency."""
    if latency["mean"] is None:
        return None
    return round(remaining * latency["mean"] / 1000 / concurrency)


def order_list_url(**params):
    return reverse("admin:orders_order_changelist") + "?" + urlencode(params)


def error_groups(batch, limit=ERROR_GROUPS):
    """The most frequent last_error texts of a batch, each with its count and order list."""
    rows = (
        batch.orders.exclude(last_error="")
        .order_by()
        .values_list("last_error")
        .annotate(n=Count("id"))
        .order_by("-n", "last_error")[:limit]
    )
    return [
        {
            "error": error,
            "count": n,
            "url": order_list_url(batch__id__exact=batch.pk, last_error=error),
        }
        for error, n in rows
    ]


def batch_counts(batch):
    counts = status_counts(batch.orders.all())
    total = sum(counts.values())
    unsent = sum(counts[s] for s in Order.UNSENT_STATUSES)
    still_open = sum(counts[s] for s in Order.OPEN_STATUSES)
    return {
        "counts": counts,
        "total": total,
        "unsent": unsent,
        "open": still_open,
        "sent": total - unsent,
        "final": total - still_open,
    }


def batch_progress(batch, now=None):
    """Everything the batch page shows, as plain JSON-ready values (a handful of queries)."""
    now = now or timezone.now()
    numbers = batch_counts(batch)
    window = activity_window(batch, now)
    activity = recent_activity(batch.orders.all(), now, window)
    latency = latency_summary(call_events().filter(batch=batch))
    concurrency, rate, _ = dispatcher_limits()
    throughput = per_minute(activity["sent_recently"], window)
    results_rate = per_minute(activity["finished_recently"], window)
    paused = batch.state != Batch.State.RUNNING and numbers["open"]
    fallback = send_fallback_eta(numbers["unsent"], latency, concurrency)
    return {
        **numbers,
        "batch": batch.pk,
        "state": batch.state,
        "state_label": batch.get_state_display(),
        "note": batch.note,
        "provider": breaker.state().describe(now),
        "sent_percent": percent(numbers["sent"], numbers["total"]),
        "final_percent": percent(numbers["final"], numbers["total"]),
        "throughput_per_minute": throughput,
        "results_per_minute": results_rate,
        "latency_p50_ms": latency["p50"],
        "latency_p95_ms": latency["p95"],
        "latency_calls": latency["calls"],
        "concurrency": concurrency,
        "rate_limit_per_minute": rate,
        "eta_send_seconds": None
        if paused
        else eta_seconds(numbers["unsent"], throughput, fallback),
        "eta_results_seconds": None if paused else eta_seconds(numbers["open"], results_rate),
        "cost_so_far": money(activity["cost"]),
        "cost_expected": money(numbers["total"] * batch.service.price),
        "errors": error_groups(batch),
        "updated_at": now.isoformat(),
    }


# -- the admin index ---------------------------------------------------------------------------


def today_summary(now=None):
    now = timezone.localtime(now or timezone.now())
    start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    summary = Order.objects.filter(created_at__gte=start).aggregate(
        orders=Count("id"), spend=Sum("cost")
    )
    return {"orders": summary["orders"], "spend": money(summary["spend"])}


def open_batches(limit=10):
    """Batches still moving, with the counts their bars need (one annotated query)."""
    batches = (
        Batch.objects.filter(
            state__in=[Batch.State.QUEUED, Batch.State.RUNNING, Batch.State.PAUSED]
        )
        .select_related("service")
        .annotate(
            total=Count("orders"),
            unsent=Count("orders", filter=Q(orders__status__in=Order.UNSENT_STATUSES)),
            still_open=Count("orders", filter=Q(orders__status__in=Order.OPEN_STATUSES)),
        )
        .order_by("-created_at")[:limit]
    )
    for batch in batches:
        batch.sent_percent = percent(batch.total - batch.unsent, batch.total)
        batch.final_percent = percent(batch.total - batch.still_open, batch.total)
    return batches


def provider_health(now=None):
    """Last success/error, recent call latency and the error rate of the last hour."""
    now = now or timezone.now()
    recent = call_events().filter(at__gte=now - timedelta(hours=1))
    calls = recent.aggregate(
        total=Count("id"), errors=Count("id", filter=Q(to_status__in=Order.CALL_ERROR_STATUSES))
    )
    _, _, dispatcher = dispatcher_limits()
    return {
        "dispatcher": dispatcher,
        "breaker": breaker.state().describe(now),
        "latency": latency_summary(recent),
        "calls": calls["total"],
        "errors": calls["errors"],
        "error_percent": percent(calls["errors"], calls["total"]),
    }


def problem_orders():
    """Failed and unknown orders across all batches, with links to them."""
    counts = dict(
        Order.objects.filter(status__in=Order.PROBLEM_STATUSES)
        .order_by()
        .values_list("status")
        .annotate(n=Count("id"))
    )
    return [
        {
            "status": status,
            "label": status.label,
            "count": counts.get(status, 0),
            "url": order_list_url(status__exact=status),
        }
        for status in Order.PROBLEM_STATUSES
    ]
