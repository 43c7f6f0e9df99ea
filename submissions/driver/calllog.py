"""One log line per provider call, and a line when a batch starts and when it finishes.

Logger `submissions.calls`, INFO. The message is plain `key=value` text; the same values
travel as record attributes (`extra`), so with LOG_FORMAT=json each becomes a JSON field.
The API key is never among them: only the order's own fields and the call's outcome.
"""

import logging

from django.db.models import Count, Sum

from orders.models import Order

from ..provider import ProviderError
from ..provider.metrics import CALLS

log = logging.getLogger("submissions.calls")

PLACED = "placed"
UNEXPECTED = "unexpected"


def emit(event, **fields):
    if "outcome" in fields:
        CALLS.labels(event, fields["outcome"]).inc()
    text = " ".join(f"{name}={'-' if value is None else value}" for name, value in fields.items())
    log.info("%s %s", event, text, extra={"event": event, **fields})


def http_status(call):
    """The HTTP status the call got: 200 for an answer (errors included), None if none came."""
    if call.placed is not None:
        return 200
    error = call.error
    if not isinstance(error, ProviderError):
        return None
    return error.status_code or (200 if error.raw else None)


def outcome(call):
    if call.placed is not None:
        return PLACED
    if isinstance(call.error, ProviderError):
        return call.error.kind
    return UNEXPECTED


def placeorder(order, call):
    """After the call is recorded: `order` holds its new status and cost."""
    emit(
        "placeorder",
        order=order.pk,
        batch=order.batch_id,
        imei=order.imei,
        service=order.service_id,
        http=http_status(call),
        outcome=outcome(call),
        status=order.status,
        latency_ms=round(call.latency * 1000),
        cost=str(order.cost),
        remote_id=call.placed.remote_id if call.placed is not None else None,
    )


def getimeis(orders_by_id, answer):
    failed = isinstance(answer, Exception)
    emit(
        "getimeis",
        orders=len(orders_by_id),
        answered=None if failed else len(answer),
        outcome=getattr(answer, "kind", "error") if failed else "ok",
    )


def batch_started(batch):
    total = Order.objects.filter(batch=batch).count()
    emit("batch_started", batch=batch.pk, service=batch.service_id, orders=total)


def batch_finished(batch):
    """The batch's totals: one GROUP BY over its orders, once per batch."""
    rows = Order.objects.filter(batch=batch).order_by().values_list("status")
    counts = dict(rows.annotate(n=Count("id")))
    spend = Order.objects.filter(batch=batch).aggregate(spend=Sum("cost"))["spend"] or 0
    emit(
        "batch_finished",
        batch=batch.pk,
        state=batch.state,
        orders=sum(counts.values()),
        **{status: counts.get(status, 0) for status in Order.Status.values},
        spend=f"{spend:.2f}",
    )
