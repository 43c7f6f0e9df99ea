"""The Order table as the queue: claiming, crash sweep, batch completion, work left.

All of it runs on the driver's main thread (or in a task), never in a pool thread.
"""

import heapq
import logging

from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q
from django.db.models.functions import Now

from orders.bulk import from_now
from orders.models import Batch, Order

from .. import garbage, signals, spend
from ..models import Dispatcher
from . import calllog, limits

log = logging.getLogger(__name__)

SWEPT_NOTE = (
    "The worker sending this order stopped before it recorded the provider's answer (its "
    "lease expired). It may have been placed, so it is not sent again automatically."
)


class Claimed(list):
    """The orders a claim took, and the orders in flight (`submitting`) it counted first."""

    def __init__(self, orders=(), in_flight=0):
        super().__init__(orders)
        self.in_flight = in_flight


def claim(limit, wanted, lease, live=None, ahead=0):
    """Claim at most `wanted` due orders without passing the in-flight limit across all workers.

    One transaction: on PostgreSQL the Dispatcher row lock serialises claimers (and
    SKIP LOCKED keeps us off rows another transaction holds); on SQLite the IMMEDIATE
    transaction already does. The limit is the lower of `limit` and the shared one on the
    locked row (a 429 halving by another driver counts at once); the send-rate bucket is
    taken here too. `live`: the operator's controls, as the driver read them last. `ahead`:
    orders a driver may hold claimed beyond the limit, not yet sent (it sends them only into
    free slots). Only orders whose price fits under the spend caps are taken
    (submissions/spend.py; the ledger's trigger reserves them). The orders are `submitting`
    once this commits, before any call. The driver claims in the transaction that records its
    answers (no savepoint: an error here rolls all of it back).
    """
    with transaction.atomic(savepoint=False):
        row = lock_dispatcher()
        in_force = limits.current(row, live)
        by_batch = in_flight_by_batch()
        in_flight = sum(by_batch.values())
        free = min(wanted, min(limit, in_force.concurrency) + ahead - in_flight)
        if free <= 0 or row.refused_account_wide:  # refused for the whole account: wait
            return Claimed(in_flight=in_flight)
        due = due_orders(free, by_batch)
        due = spend.fit(due, row.db_now, spend_caps(live))  # under every spend cap
        due = due[: limits.take_sends(row, len(due), in_force.rate_per_minute)] if due else []
        claimed = Order.objects.claim(due, lease) if due else []
        start_batches(claimed)
    return Claimed(claimed, in_flight)


def spend_caps(live):
    """The spend caps as the driver read them with its controls, else read now."""
    return getattr(live, "spend_caps", None) or spend.caps()


def due_orders(count, in_flight=None):
    """Up to `count` due orders, read for a claim (docs/urgent.md).

    1. Urgent batches ("check now") first, the oldest first, every due order of theirs.
    2. The rest shared between the live batches by weight (`WEIGHTS`): each slot goes to the
       batch with the fewest orders in flight for its weight (`in_flight`: batch id -> orders
       `submitting`), the older batch on a tie. A batch with fewer due orders than its share
       gives the rest back to the others.

    Each batch is read through the partial index of queued orders on (batch, id), in the order
    of its file: a claim reads the rows it takes, however long the queue. (One query over every
    live batch sorted each batch's queued orders: 24 ms a claim with 12,000 queued, against
    0.2 ms.) Only batches with a queued order are asked.
    """
    batches = queued_batches()
    due = []
    for batch_id in [pk for pk, priority in batches if priority == Batch.Priority.URGENT]:
        due += batch_due(batch_id, count - len(due))
        if len(due) == count:
            return due
    weights = {pk: WEIGHTS[p] for pk, p in batches if p != Batch.Priority.URGENT}
    in_flight = dict(in_flight or {})
    last = {}  # batch id -> the last order id taken: a second round reads on from there
    while len(due) < count and weights:
        for batch_id, share in share_out(count - len(due), weights, in_flight).items():
            taken = batch_due(batch_id, share, after=last.get(batch_id, 0))
            due += taken
            in_flight[batch_id] = in_flight.get(batch_id, 0) + len(taken)
            if taken:
                last[batch_id] = taken[-1].pk
            if len(taken) < share:
                del weights[batch_id]  # nothing more due there: its share goes to the others
    return due


# A batch's share of the slots, by its priority: high gets twice normal's, low half.
WEIGHTS = {Batch.Priority.LOW: 1, Batch.Priority.NORMAL: 2, Batch.Priority.HIGH: 4}


def queued_batches():
    """(id, priority) of the live batches holding a queued order, oldest first."""
    queued = Order.objects.filter(batch=OuterRef("pk"), status=Order.Status.QUEUED)
    live = Batch.objects.filter(Exists(queued), state__in=Batch.LIVE_STATES)
    live = live.exclude(service__in=garbage.paused_services())  # paid garbage: paused
    return list(live.order_by("id").values_list("id", "priority"))


def batch_due(batch_id, count, after=0):
    """The batch's first `count` due orders with an id above `after`, in file order.

    `after`: the rows an earlier round of the same claim took are not claimed yet (still
    queued, locked by this transaction), so they would be read again.
    """
    orders = Order.objects.due_for_submit().filter(batch_id=batch_id, pk__gt=after).claimable()
    return list(orders.order_by("id")[:count]) if count > 0 else []


def share_out(count, weights, in_flight):
    """{batch id: slots} for `count` slots: each to the batch lowest in (in flight) / weight."""
    heap = [((in_flight.get(pk, 0) + 1) / weight, pk) for pk, weight in weights.items()]
    heapq.heapify(heap)
    shares = {}
    for _ in range(count):
        _, pk = heapq.heappop(heap)
        shares[pk] = shares.get(pk, 0) + 1
        load = in_flight.get(pk, 0) + shares[pk] + 1
        heapq.heappush(heap, (load / weights[pk], pk))
    return shares


def in_flight_by_batch():
    """{batch id: orders `submitting`}: the global in-flight count, per batch for the share."""
    rows = Order.objects.in_flight().values_list("batch_id").annotate(n=Count("id"))
    return dict(rows.order_by())


def lock_dispatcher():
    """The Dispatcher row, locked for this transaction, with the database's time (`db_now`)."""
    locked = Dispatcher.row().select_for_update().annotate(db_now=Now())
    row = locked.first()
    if row is None:
        Dispatcher.get()
        row = locked.first()
    return row


def start_batches(orders):
    """Their queued batches -> running; the claim read each batch's state with its order."""
    queued = {o.batch_id for o in orders if o.batch_state == Batch.State.QUEUED}
    for batch in Batch.objects.filter(pk__in=queued) if queued else []:
        if batch.mark_running():
            calllog.batch_started(batch)


def extend_leases(orders, lease):
    """Keep the leases of calls still running in this driver: only a dead worker's expire.

    Only under the claims these orders were sent with: an order swept and claimed again by
    another driver meanwhile is that driver's to keep alive.
    """
    return (
        Order.objects.in_flight()
        .filter(pk__in=[o.pk for o in orders], claim_token__in={o.claim_token for o in orders})
        .update(lease_expires_at=from_now(lease))
    )


def still_claimed(orders):
    """Those of `orders` the database has `submitting` under the claim they hold: still ours."""
    if not orders:
        return []
    rows = set(
        Order.objects.in_flight()
        .filter(pk__in=[o.pk for o in orders])
        .values_list("pk", "claim_token")
    )
    return [order for order in orders if (order.pk, order.claim_token) in rows]


def sweep_expired():
    """Orders left `submitting` past their lease (a killed worker) -> unknown; never re-sent.

    Leases are set and compared by the database's clock, and each UPDATE checks the lease
    again: a driver that renewed it after this query looked keeps its order.
    """
    stale = Order.objects.in_flight().filter(lease_expires_at__lt=Now())
    swept = sum(order.mark_unknown(SWEPT_NOTE, lease_expired=True) for order in stale)
    if swept:
        log.warning("Moved %d orders with an expired lease to unknown", swept)
    return swept


STRANDED_NOTE = (
    "Its batch was cancelled while it was being sent, and the provider did not create it "
    "(refused or throttled): cancelled, not sent again."
)


def cancel_stranded():
    """Queued orders of a cancelled batch -> cancelled; returns how many.

    A call answered "not created" (transient, auth) after its batch was cancelled puts the
    order back in `queued`, where nothing would ever claim, cancel or re-submit it.
    """
    stranded = Order.objects.filter(status=Order.Status.QUEUED, batch__state=Batch.State.CANCELLED)
    return sum(order.cancel(detail=STRANDED_NOTE) for order in stranded)


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
        signals.batch_finished.send(sender=Batch, batch=batch)
    return len(finished)


def work_remains():
    """Anything a driver must still do: send, wait for an answer, or poll a result.

    Two indexed questions: as one OR across the batch join it read the whole table (170-300 ms
    with 2,000,000 orders, at every housekeeping turn).
    """
    queued = Order.objects.filter(status=Order.Status.QUEUED, batch__state__in=Batch.LIVE_STATES)
    return Order.objects.filter(status__in=Order.IN_HAND_STATUSES).exists() or queued.exists()


def pause_live_batches(note):
    """Stop every queued or running batch (the provider refused our credentials)."""
    batches = Batch.objects.filter(state__in=Batch.LIVE_STATES)
    return sum(batch.pause(note) for batch in batches)
