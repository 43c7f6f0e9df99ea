"""Aggregate numbers for the batch page, its JSON endpoint and the batch list.

Every figure comes from a handful of aggregate queries (one GROUP BY status, one aggregate, one
capped latency sample, one GROUP BY last_error), never a loop over orders: a batch holds up to
20,000 of them and its page asks again every few seconds.
"""

import math
from datetime import timedelta
from decimal import Decimal
from urllib.parse import urlencode

from django.core.cache import cache
from django.db.models import Count, Min
from django.urls import reverse
from django.utils import timezone

from orders.models import Batch, BatchStatusCount, Order, OrderEvent
from submissions import controls, spend
from submissions.driver import breaker
from submissions.models import Dispatcher

from .wording import for_operator

Status = Order.Status
WINDOW = timedelta(minutes=5)
LATENCY_SAMPLE = 1000
# A rate is shown once this many events were seen over at least this long.
MIN_EVENTS = 10
MIN_SPAN_SECONDS = 1.0
FINISHED_SECONDS = 3600
ERROR_GROUPS = 10
CENT = Decimal("0.01")
# Where a provider call (placeorder) can take an order: what it answered, or how it failed.


def status_counts(orders):
    """{status: count} for every status, zeros included: one GROUP BY."""
    counts = dict.fromkeys(Status.values, 0)
    counts.update(orders.order_by().values_list("status").annotate(n=Count("id")))
    return counts


def kept_counts(batch):
    """({status: count} with zeros, cost) of one batch from its ~10 counter rows.

    Exact: the counters are kept by triggers in the same transaction as every order write.
    """
    counts = dict.fromkeys(Status.values, 0)
    cost = Decimal(0)
    for status, n, amount in BatchStatusCount.objects.filter(batch=batch).values_list(
        "status", "orders", "cost"
    ):
        counts[status] = n
        cost += Decimal(amount or 0)
    return counts, cost


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
        to_status__in=Order.CALL_OUTCOME_STATUSES,
        latency_ms__isnull=False,
    )


def latency_summary(sample):
    """p50, p95 and mean of a list of latencies (ms)."""
    sample = sorted(sample)
    mean = sum(sample) / len(sample) if sample else None
    return {
        "p50": percentile(sample, 50),
        "p95": percentile(sample, 95),
        "mean": mean,
        "calls": len(sample),
    }


def dispatcher_limits(live=None):
    """(concurrency, rate per minute or None, dispatcher or None): read-only, never created.

    `live`: the operator's live controls (else read here; unset, the settings)."""
    dispatcher = Dispatcher.row().first()
    live = live or controls.effective()
    concurrency, rate = live.concurrency, live.rate_per_minute or None
    if dispatcher is not None:
        concurrency = dispatcher.effective_concurrency or concurrency
    return concurrency, rate, dispatcher


def observed_rate(events, now, window=WINDOW, min_span=MIN_SPAN_SECONDS, since=None):
    """Events per minute over the time actually observed, or None while too little is seen.

    Of `events`, the last 1,000 of the last `window` count, and the rate runs from the oldest
    of them to now: a batch that started 20 s ago is measured over those 20 s (not over 5
    minutes), and a stalled one slows down. `since` (a resume) cuts the window: the calls
    before a pause and the pause itself say nothing about the pace now. One aggregate over a
    capped subquery.
    """
    start = max(now - window, since) if since else now - window
    sample = events.filter(at__gte=start).order_by("-at")[:LATENCY_SAMPLE]
    seen = sample.aggregate(n=Count("id"), oldest=Min("at"))
    if seen["n"] < MIN_EVENTS:
        return None
    span = (now - seen["oldest"]).total_seconds()
    if span < min_span:
        return None
    return round((seen["n"] - 1) / span * 60, 1)


def sent_events(batch):
    """Calls that took an order out of the queue (a retry, back to `queued`, did not)."""
    return call_events().filter(batch=batch).exclude(to_status=Status.QUEUED)


def result_events(batch):
    """Final results (getimeis) of the batch's placed orders."""
    return OrderEvent.objects.filter(
        batch=batch,
        from_status__in=Order.AWAITING_RESULT_STATUSES,
        to_status__in=Order.RESULT_STATUSES,
    )


def money(amount):
    """'12.34': SQLite sums decimals as floats, so round to the cent here."""
    return str(Decimal(amount or 0).quantize(CENT))


def eta_seconds(remaining, rate_per_minute):
    """Seconds left at `rate_per_minute`; None when it is unknown."""
    if remaining == 0:
        return 0
    if not rate_per_minute:
        return None
    return round(remaining / rate_per_minute * 60)


def send_fallback_eta(remaining, latency, concurrency):
    """Before a rate is measured: remaining x mean latency / concurrency."""
    if latency["mean"] is None or latency["calls"] < MIN_EVENTS:
        return None
    return round(remaining * latency["mean"] / 1000 / concurrency)


def order_list_url(**params):
    return reverse("admin:orders_order_changelist") + "?" + urlencode(params)


def error_groups(batch, limit=ERROR_GROUPS):
    """The most frequent last_error texts of a batch, each with its count and order list.

    Reads only the batch's orders with an error (the partial index order_batch_error_idx).
    """
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
            "text": for_operator(error),
            "count": n,
            "url": order_list_url(batch__id__exact=batch.pk, last_error=error),
        }
        for error, n in rows
    ]


# The final results, each its own colour in the bars (portal.css `.seg-<name>`).
SEGMENTS = [
    ("completed", "completed", [Status.COMPLETED]),
    ("rejected", "rejected or duplicate", [Status.REJECTED, Status.DUPLICATE]),
    ("failed", "failed or unknown", Order.PROBLEM_STATUSES),
    ("cancelled", "cancelled", [Status.CANCELLED]),
]


def final_segments(counts):
    """[{name, label, count, width}] of the final results: a cancelled batch's bar shows what
    completed, failed and was cancelled, not one green 100 %. `width`: % of all orders."""
    total = sum(counts.values())
    segments = []
    for name, label, statuses in SEGMENTS:
        n = sum(counts[s] for s in statuses)
        width = round(n * 100 / total, 2) if total else 0
        segments.append({"name": name, "label": label, "count": n, "width": width})
    return segments


def batch_counts(batch):
    """The batch's exact figures from its counter rows (one query).

    "Sent" is what left the queue for the provider: cancelled orders were never sent, so a
    cancelled batch reads "Sent 7 %", not "93 %".
    """
    counts, cost = kept_counts(batch)
    total = sum(counts.values())
    unsent = sum(counts[s] for s in Order.UNSENT_STATUSES)
    still_open = sum(counts[s] for s in Order.OPEN_STATUSES)
    return {
        "counts": counts,
        "total": total,
        "unsent": unsent,
        "open": still_open,
        "sent": total - unsent - counts[Status.CANCELLED],
        "final": total - still_open,
        "cost": cost,
    }


def pace(batch, now):
    """Latency and the observed send and result rates: three capped queries on (batch, at).

    A finished batch's figures no longer change: kept in the cache.
    """
    if batch.finished_at is None:
        return measure_pace(batch, now)
    key = f"orders:pace:{batch.pk}:{batch.finished_at.timestamp()}"
    return cache.get_or_set(key, lambda: measure_pace(batch, now), FINISHED_SECONDS)


def measure_pace(batch, now):
    latencies = call_events().filter(batch=batch).order_by("-at").values_list("latency_ms")
    latency = latency_summary([ms for (ms,) in latencies[:LATENCY_SAMPLE]])
    since = batch.resumed_at
    return {
        "latency": latency,
        "send_rate": send_rate(batch, now, latency),
        "results_rate": observed_rate(result_events(batch), now, since=since),
    }


def send_rate(batch, now, latency):
    """The observed sending rate, once a whole call latency was watched: the first answers
    are the fastest calls of the first wave, too few to say how fast the batch goes."""
    span = max(MIN_SPAN_SECONDS, (latency["mean"] or 0) / 1000)
    return observed_rate(sent_events(batch), now, min_span=span, since=batch.resumed_at)


def running_seconds(batch, begun, now):
    """Seconds the batch has run: its pauses (and a done spell before a re-submit) left out."""
    still = batch.paused_seconds or 0
    if batch.paused_at:  # paused now, or cancelled while paused
        still += (now - batch.paused_at).total_seconds()
    return max(0, round((now - begun).total_seconds() - still))


def timing(batch, numbers, speed, concurrency, now):
    """ETAs while the batch runs; when and how long for a finished one."""
    running = batch.state == Batch.State.RUNNING
    finished = batch.state in (Batch.State.DONE, Batch.State.CANCELLED) and batch.finished_at
    begun = batch.started_at or batch.created_at
    eta_send = eta_results = None
    if running:
        eta_send = eta_seconds(numbers["unsent"], speed["send_rate"])
        if eta_send is None:
            eta_send = send_fallback_eta(numbers["unsent"], speed["latency"], concurrency)
        eta_results = eta_seconds(numbers["open"], speed["results_rate"])
    took = running_seconds(batch, begun, batch.finished_at) if finished else None
    return {
        "eta_send_seconds": eta_send,
        "eta_results_seconds": eta_results,
        "finished_at": batch.finished_at.isoformat() if finished else None,
        "took_seconds": took,
        "running_seconds": None if finished else running_seconds(batch, begun, now),
        "average_per_minute": round(numbers["sent"] / took * 60, 1) if took else None,
    }


def batch_progress(batch, now=None):
    """Everything the batch page shows, as plain JSON-ready values (a handful of queries)."""
    now = now or timezone.now()
    numbers = batch_counts(batch)
    speed = pace(batch, now)
    live = controls.effective()
    concurrency, rate, _ = dispatcher_limits(live)
    latency = speed["latency"]
    return {
        **{key: value for key, value in numbers.items() if key != "cost"},
        "batch": batch.pk,
        "state": batch.state,
        "state_label": batch.get_state_display(),
        "note": batch.note,
        # What holds sending beyond this batch: the provider's breaker, the spend caps.
        "provider": " ".join(
            filter(None, [breaker.state().describe(now), spend.sending_reason(now)])
        ),
        # "Stop all sending" holds every batch: the page says so and counts no ETA.
        "sending_stopped": live.sending_stopped,
        "sent_percent": percent(numbers["sent"], numbers["total"]),
        "final_percent": percent(numbers["final"], numbers["total"]),
        "segments": final_segments(numbers["counts"]),
        "throughput_per_minute": speed["send_rate"],
        "results_per_minute": speed["results_rate"],
        "latency_p50_ms": latency["p50"],
        "latency_p95_ms": latency["p95"],
        "latency_calls": latency["calls"],
        "concurrency": concurrency,
        "rate_limit_per_minute": rate,
        **timing(batch, numbers, speed, concurrency, now),
        "cost_so_far": money(numbers["cost"]),
        "cost_expected": money(
            (numbers["total"] - numbers["counts"][Status.CANCELLED]) * batch.service.price
        ),
        "errors": error_groups(batch),
        "updated_at": now.isoformat(),
    }


def counts_by_batch(batch_ids):
    """{batch id: ({status: count}, cost)} for the given batches: one query on the counters."""
    figures = {pk: (dict.fromkeys(Status.values, 0), Decimal(0)) for pk in batch_ids}
    rows = BatchStatusCount.objects.filter(batch_id__in=batch_ids).values_list(
        "batch_id", "status", "orders", "cost"
    )
    for batch_id, status, n, amount in rows:
        counts, cost = figures[batch_id]
        counts[status] = n
        figures[batch_id] = (counts, cost + Decimal(amount or 0))
    return figures


def summarise(counts):
    """The list figures of one batch from its status counts."""
    total = sum(counts.values())
    unsent = sum(counts[s] for s in Order.UNSENT_STATUSES)
    still_open = sum(counts[s] for s in Order.OPEN_STATUSES)
    sent = total - unsent - counts[Status.CANCELLED]
    return {
        "total": total,
        "completed": counts[Status.COMPLETED],
        "problems": sum(counts[s] for s in Order.PROBLEM_STATUSES),
        "open": still_open,
        "sent_percent": percent(sent, total),
        "final_percent": percent(total - still_open, total),
        "segments": final_segments(counts),
    }
