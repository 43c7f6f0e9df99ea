"""The pool threads' side of a call: the HTTP request alone, no database, never raising.

What comes back is a `Call` (placeorder) or the answer or exception (getimeis), recorded by the
driver's main thread.
"""

import logging
from dataclasses import dataclass
from functools import partial

from django.conf import settings

from .clock import SystemClock

log = logging.getLogger("submissions.driver")

MAX_REMOTE_ID = 2**63 - 1  # the largest id the database stores (a signed 64-bit integer)
LEFT_TO_THE_SWEEP = "Call still unanswered after draining, left to the sweep: order %s (IMEI %s)"
NEVER_SENT_LEFT_TO_THE_SWEEP = (
    "Claimed ahead, never sent, left to the sweep (then reconciled): order %s (IMEI %s)"
)


def longest_call_seconds():
    """Name resolution and connecting (each bounded by the connect timeout, see
    provider/transport.py), then the read timeout."""
    connect, read = settings.GSM_FUSION_CONNECT_TIMEOUT, settings.GSM_FUSION_READ_TIMEOUT
    return 2 * connect + read


@dataclass
class Call:
    """One finished placeorder call, as the pool thread saw it."""

    placed: object = None
    error: Exception | None = None
    latency: float = 0.0


def place(client, imei, service_id, clock=None):
    """Runs in a pool thread: the HTTP call only, no database. Never raises."""
    clock = clock or SystemClock()
    started = clock.monotonic()
    try:
        return Call(
            placed=client.place_order(imei, service_id), latency=clock.monotonic() - started
        )
    except Exception as exc:  # recorded by the main thread, never lost
        return Call(error=exc, latency=clock.monotonic() - started)


def fetch(client, remote_ids):
    """Runs in a poll thread: one getimeis call; returns the orders or the exception."""
    try:
        return client.order_statuses(remote_ids)
    except Exception as exc:  # a failed read only delays the next poll
        return exc


def describe(order, call):
    """An answer in full, for the log: enough to record it by hand."""
    if call.placed is not None:
        answer = f"placed as {call.placed.remote_id}: {call.placed.raw}"
    else:
        answer = f"{call.error!r}"
    return f"order {order.pk} (IMEI {order.imei}, claim {order.claim_token}) {answer}"


def storable_id(placed):
    return 0 <= placed.remote_id <= MAX_REMOTE_ID


def storable(call):
    """A placed answer whose id the database can store: one UPDATE, no savepoint of its own."""
    return call.placed is not None and storable_id(call.placed)


def log_late_answer(order, future):
    """A call that answered after its driver gave up on it: the log is all that keeps it."""
    log.error(
        "Late answer after the driver stopped; record it by hand: %s",
        describe(order, future.result()),
    )


def log_left_behind(sending):
    """At the drain's end: what is still claimed or in flight, in full, for the sweep or a
    person."""
    for order in [*sending.ahead.take_all(), *sending.unverified]:
        log.error(NEVER_SENT_LEFT_TO_THE_SWEEP, order.pk, order.imei)
    for future, (order, _) in sending.sends.items():
        if future.done():
            log.error(
                "Answer never recorded; record it by hand: %s", describe(order, future.result())
            )
        else:
            log.error(LEFT_TO_THE_SWEEP, order.pk, order.imei)
            future.add_done_callback(partial(log_late_answer, order))
