"""Status polling (getimeis): which orders are due, fetching in chunks, recording answers.

Fetching touches no database, so the driver runs it on a small executor; selecting and
recording run on the caller's thread. `poll_due()` does all three inline, for the
"Sync status now" task outside the driver.
"""

import logging
import math
from collections import defaultdict
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from orders.bulk import transitions_in_bulk
from orders.models import Order, Polled

from .. import garbage
from ..provider.results import parse_result

log = logging.getLogger(__name__)

CHUNK = 100  # ids per getimeis call (the protocol page: 100 is sane)
MAX_PER_ROUND = 2000


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
        moved = Order.objects.apply_remote_statuses(answers)
        changed = len(moved)
        garbage.record_results(moved)  # a service paid for worthless results is paused
        # Ids the provider left out, and orders still waiting, are asked about again later.
        waiting = [o for o in orders_by_id.values() if o.status in Order.AWAITING_RESULT_STATUSES]
        schedule_next_polls(waiting)
    return changed


def record_failure(orders_by_id, error):
    log.warning("getimeis for %d orders failed: %s", len(orders_by_id), error)
    schedule_next_polls(orders_by_id.values())


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


def schedule_next_polls(orders, now=None):
    """Ask about these orders again later; older orders less often.

    The interval grows with the order's age (a tenth of it, at most an hour) and is rounded up
    to whole poll periods, so a chunk of 100 orders costs a few UPDATEs.
    """
    now = now or timezone.now()
    ids_by_interval = defaultdict(list)
    for order in orders:
        ids_by_interval[poll_interval(now - (order.submitted_at or now))].append(order.pk)
    for interval, ids in ids_by_interval.items():
        Order.objects.filter(pk__in=ids).update(next_poll_at=now + interval)


def poll_interval(age):
    period = settings.STATUS_POLL_SECONDS
    seconds = min(max(period, age.total_seconds() / 10), 3600)
    return timedelta(seconds=math.ceil(seconds / period) * period)
