"""The urgent lane and fair share, measured under a saturating batch (`--preset urgent`).

1. A big batch (`--orders`) is imported through the admin and fills every slot.
2. Once the provider holds the cap in flight, a small batch (`small_orders`) is imported, and
   every `URGENT_EVERY` seconds a "check now" of `urgent_imeis` IMEIs is posted through the
   admin (`urgent_checks` of them).
3. When the small batch and every urgent order are placed: each urgent order's time from its
   submit to its call starting (the placed event's time minus the call's latency) and to its
   id being recorded, p50/p95/max; the small batch's time from its import to its last order
   placed, against its time on half the slots (`small_orders` x latency / (cap / 2)); the
   peak in flight at the provider (never above the cap).

The big batch is not waited for: the cluster stops once the figures are in.
"""

import time

from django.utils import timezone

from orders.models import Batch, Order, OrderEvent

from . import phases, processes

CHECK_NOW_URL = "/admin/orders/order/check-now/"
URGENT_EVERY = 2.0  # seconds between two check-now submits


def run(config, client, service, provider, workdir, log):
    cluster = processes.Cluster(config, provider, workdir)
    try:
        big, _ = phases.run_import(client, service, phases.imeis("engine", config.orders))
        log(f"Batch {big.pk} of {config.orders:,} confirmed; waiting for the cap in flight")
        wait_for(lambda: provider.stats()["inflight_placeorders"] >= config.concurrency, 60)
        started = time.monotonic()
        small, _ = phases.run_import(client, service, phases.imeis("small", config.small_orders))
        checks = submit_checks(config, client, service, log)
        log("Waiting until the small batch and the urgent orders are placed")
        wait_for(lambda: placed(small) and all(placed(b) for b, _ in checks), 600)
        small_seconds = last_placed(small) - small.created_at
        small_wall = time.monotonic() - started
    finally:
        cluster.stop()
    return figures(config, checks, small_seconds.total_seconds(), small_wall, provider.stats())


def submit_checks(config, client, service, log):
    """Post `urgent_checks` check-nows, one every URGENT_EVERY s; [(batch, submitted at)]."""
    checks = []
    for n in range(config.urgent_checks):
        imeis = phases.imeis("urgent", config.urgent_imeis, start=n * config.urgent_imeis)
        submitted = timezone.now()
        answer = client.post(CHECK_NOW_URL, {"imeis": "\n".join(imeis), "service": service.pk})
        if answer.status_code != 302:
            raise RuntimeError(f"Check now failed (HTTP {answer.status_code})")
        checks.append(
            (Batch.objects.filter(priority=Batch.Priority.URGENT).latest("id"), submitted)
        )
        time.sleep(URGENT_EVERY)
    log(f"{len(checks)} check-nows of {config.urgent_imeis} IMEIs submitted")
    return checks


def wait_for(predicate, timeout):
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise RuntimeError("The urgent benchmark timed out")
        time.sleep(0.2)


def placed(batch):
    return not batch.orders.filter(status__in=Order.UNSENT_STATUSES).exists()


def placed_events(batch):
    return OrderEvent.objects.filter(
        batch=batch, from_status=Order.Status.SUBMITTING, latency_ms__isnull=False
    )


def last_placed(batch):
    return placed_events(batch).latest("at").at


def urgent_seconds(checks):
    """(to the call's start, to the answer recorded) of every urgent order, in seconds."""
    sent, answered = [], []
    for batch, submitted in checks:
        for at, latency_ms in placed_events(batch).values_list("at", "latency_ms"):
            answered.append((at - submitted).total_seconds())
            sent.append(answered[-1] - latency_ms / 1000)
    return sent, answered


def spread(values):
    values = sorted(values)
    if not values:
        return {"count": 0, "p50_s": None, "p95_s": None, "max_s": None}
    at = lambda share: values[min(int(len(values) * share), len(values) - 1)]  # noqa: E731
    return {
        "count": len(values),
        "p50_s": round(at(0.5), 2),
        "p95_s": round(at(0.95), 2),
        "max_s": round(values[-1], 2),
    }


def figures(config, checks, small_seconds, small_wall, stats):
    sent, answered = urgent_seconds(checks)
    half_the_slots = config.small_orders * config.latency / (config.concurrency / 2)
    return {
        "urgent_to_sent": spread(sent),
        "urgent_to_placed": spread(answered),
        "small_batch": {
            "orders": config.small_orders,
            "seconds_to_all_placed": round(small_seconds, 1),
            "seconds_on_half_the_slots": round(half_the_slots, 1),
            "ratio": round(small_seconds / half_the_slots, 2),
            "benchmark_wall_seconds": round(small_wall, 1),
        },
        "peak_inflight": stats["peak_inflight_placeorders"],
        "concurrency": config.concurrency,
        "imeis_sent_more_than_once": stats["imeis_sent_more_than_once"],
    }


def table(results):
    rows = [
        ("urgent: submit to call sent", results["urgent_to_sent"]),
        ("urgent: submit to id recorded", results["urgent_to_placed"]),
    ]
    lines = [f"{'':32} {'n':>4} {'p50':>7} {'p95':>7} {'max':>7}"]
    for label, s in rows:
        lines.append(
            f"{label:32} {s['count']:>4} {s['p50_s']:>6}s {s['p95_s']:>6}s {s['max_s']:>6}s"
        )
    small = results["small_batch"]
    lines.append(
        f"small batch of {small['orders']}: all placed in {small['seconds_to_all_placed']} s "
        f"(on half the slots: {small['seconds_on_half_the_slots']} s, ratio {small['ratio']})"
    )
    lines.append(
        f"peak in flight at the provider: {results['peak_inflight']} (cap {results['concurrency']})"
    )
    return "\n".join(lines)
