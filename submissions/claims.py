"""The Order table as the queue: claiming, crash sweep, batch completion, work left.

All of it runs on the driver's main thread (or in a task), never in a pool thread.
"""

import logging

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from orders.models import Batch, Order

from . import calllog
from .models import Dispatcher

log = logging.getLogger(__name__)

SWEPT_NOTE = (
    "The worker sending this order stopped before it recorded the provider's answer (its "
    "lease expired). It may have been placed, so it is not sent again automatically."
)


def claim(limit, wanted, lease):
    """Claim at most `wanted` due orders without passing `limit` in flight across all workers.

    One transaction: on PostgreSQL the Dispatcher row lock serialises claimers (and
    SKIP LOCKED keeps us off rows another transaction holds); on SQLite the IMMEDIATE
    transaction already does. The orders are `submitting` once this commits, before any call.
    """
    with transaction.atomic():
        Dispatcher.row().select_for_update().first()
        free = min(wanted, limit - Order.objects.in_flight().count())
        if free <= 0:
            return []
        ids = list(
            Order.objects.due_for_submit()
            .order_by("batch__created_at", "batch_id", "id")
            .select_for_update(skip_locked=True, of=("self",))
            .values_list("id", flat=True)[:free]
        )
        claimed = Order.claim(ids, lease) if ids else []
        start_batches({order.batch_id for order in claimed})
    return claimed


def start_batches(batch_ids):
    for batch in Batch.objects.filter(pk__in=batch_ids, state=Batch.State.QUEUED):
        if batch.mark_running():
            calllog.batch_started(batch)


def extend_leases(order_ids, lease):
    """Keep the leases of calls still running in this driver: only a dead worker's expire."""
    return (
        Order.objects.in_flight()
        .filter(pk__in=order_ids)
        .update(lease_expires_at=timezone.now() + lease)
    )


def sweep_expired(now=None):
    """Orders left `submitting` past their lease (a killed worker) -> unknown; never re-sent."""
    now = now or timezone.now()
    stale = Order.objects.in_flight().filter(lease_expires_at__lt=now)
    swept = sum(order.mark_unknown(SWEPT_NOTE) for order in stale)
    if swept:
        log.warning("Moved %d orders with an expired lease to unknown", swept)
    return swept


def finish_batches():
    """Running batches without an open order -> done; returns how many."""
    open_orders = Q(orders__status__in=Order.OPEN_STATUSES)
    batches = (
        Batch.objects.filter(state=Batch.State.RUNNING)
        .annotate(open_count=Count("orders", filter=open_orders))
        .filter(open_count=0)
    )
    finished = [batch for batch in batches if batch.mark_done()]
    for batch in finished:
        calllog.batch_finished(batch)
    return len(finished)


def work_remains():
    """Anything a driver must still do: send, wait for an answer, or poll a result."""
    return Order.objects.filter(
        Q(status=Order.Status.QUEUED, batch__state__in=Batch.LIVE_STATES)
        | Q(status__in=[Order.Status.SUBMITTING, *Order.AWAITING_RESULT_STATUSES])
    ).exists()


def pause_live_batches(note):
    """Stop every queued or running batch (the provider refused our credentials)."""
    batches = Batch.objects.filter(state__in=Batch.LIVE_STATES)
    return sum(batch.pause(note) for batch in batches)
