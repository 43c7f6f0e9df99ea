"""`benchmark --preset actions`: the big admin actions, timed through the admin's own views.

Each round imports --orders IMEIs (upload, then confirm: the confirm is the timed action),
then cancels the batch it made from the batch changelist (the confirmation page, then the
cancel itself: timed). No cluster runs, so every order is still queued when it is cancelled.
Server time: the Django test Client, logged in, DEBUG off.
"""

import statistics
import time

from django.urls import reverse

from orders.models import Order

from .phases import imeis, run_import

ROUNDS = 3
BATCH_CHANGELIST = "admin:orders_batch_changelist"


def run(config, client, service, log):
    rounds = []
    for n in range(ROUNDS):
        log(f"Round {n + 1} of {ROUNDS}: importing {config.orders:,} IMEIs, then cancelling")
        imei_list = imeis("actions", config.orders, start=n * config.orders)
        batch, imported = run_import(client, service, imei_list)
        rounds.append({"batch": batch.pk, **imported, **cancel(client, batch)})
    return {
        "orders": config.orders,
        "rounds": rounds,
        "confirm_import_seconds": median_of(rounds, "seconds_confirm"),
        "cancel_batch_seconds": median_of(rounds, "seconds_cancel"),
    }


def cancel(client, batch):
    """Ask, then cancel `batch` through the changelist's action; the seconds of each step."""
    selected = {"action": "cancel_batches", "_selected_action": [batch.pk]}
    started = time.perf_counter()
    asked = client.post(reverse(BATCH_CHANGELIST), selected)
    answered = time.perf_counter()
    done = client.post(reverse(BATCH_CHANGELIST), {**selected, "post": "yes"})
    finished = time.perf_counter()
    if asked.status_code != 200 or done.status_code != 302:
        raise RuntimeError(f"The cancel failed (HTTP {asked.status_code}, {done.status_code}).")
    cancelled = batch.orders.filter(status=Order.Status.CANCELLED).count()
    if cancelled != batch.orders.count():
        raise RuntimeError(f"Only {cancelled:,} orders of batch {batch.pk} were cancelled.")
    return {
        "orders_cancelled": cancelled,
        "seconds_ask": round(answered - started, 3),
        "seconds_cancel": round(finished - answered, 3),
    }


def median_of(rounds, key):
    return round(statistics.median(r[key] for r in rounds), 3)


def table(figures):
    lines = [
        f"{'action':<40} {'median':>8}   rounds",
        row(f"confirm a {figures['orders']:,}-row import", figures, "seconds_confirm"),
        row(f"cancel a {figures['orders']:,}-order batch", figures, "seconds_cancel"),
    ]
    return "\n".join(lines)


def row(label, figures, key):
    median = median_of(figures["rounds"], key)
    each = ", ".join(f"{r[key]:.2f}" for r in figures["rounds"])
    return f"{label:<40} {median:>7.2f}s   {each}"
