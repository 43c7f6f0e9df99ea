"""Status polling (getimeis): which orders are due, fetching in chunks, recording answers.

Fetching touches no database, so the driver runs it on a small executor; selecting and
recording run on the caller's thread. `poll_due()` does all three inline, for the
"Sync status now" task outside the driver.
"""

import logging

from django.utils import timezone

from orders.models import Order, Polled, transitions_in_bulk

from .. import garbage
from ..provider.results import parse_result

log = logging.getLogger(__name__)

CHUNK = 100  # ids per getimeis call (the protocol page: 100 is sane)
MAX_PER_ROUND = 2000
AWAITING = (Order.Status.PENDING, Order.Status.IN_PROCESS)


def due_chunks(limit=MAX_PER_ROUND):
    """Placed orders whose next poll is due, oldest-due first, as {remote_id: order} chunks."""
    due = list(
        Order.objects.awaiting_result()
        .filter(next_poll_at__lte=timezone.now(), remote_id__isnull=False)
        .order_by("next_poll_at", "id")[:limit]
    )
    return [{o.remote_id: o for o in due[i : i + CHUNK]} for i in range(0, len(due), CHUNK)]


def record_statuses(orders_by_id, remotes):
    """Apply one getimeis answer in one transaction; returns how many orders changed status.

    One transaction per chunk keeps the driver's main thread quick to get back to recording
    and refilling placeorder calls; if it fails, nothing of the chunk was written and the
    orders are simply polled again.
    """
    with transitions_in_bulk():
        answers = [
            Polled(orders_by_id[r.remote_id], r.status, r.code, r.raw, parse_result(r.code))
            for r in remotes
            if r.remote_id in orders_by_id
        ]
        moved = Order.apply_remote_statuses(answers)
        changed = len(moved)
        garbage.record_results(moved)  # a service paid for worthless results is paused
        # Ids the provider left out, and orders still waiting, are asked about again later.
        waiting = [o for o in orders_by_id.values() if o.status in AWAITING]
        Order.schedule_next_polls(waiting)
    return changed


def record_failure(orders_by_id, error):
    log.warning("getimeis for %d orders failed: %s", len(orders_by_id), error)
    Order.schedule_next_polls(orders_by_id.values())


def poll_due(client):
    """Poll every due order now, inline; returns how many changed status."""
    changed = 0
    for orders_by_id in due_chunks():
        try:
            remotes = client.order_statuses(list(orders_by_id))
        except Exception as exc:  # a failed read is harmless: ask again at the next poll
            record_failure(orders_by_id, exc)
            continue
        changed += record_statuses(orders_by_id, remotes)
    return changed
