"""Unknown orders found again, read-only: `getimeis` over each one's window of provider ids.

The provider has no lookup by IMEI, and re-sending answers `IMEI already exists!`. But an order
created by a call of ours lies strictly between two ids of ours, LOW and HIGH: its window
(id_window.py). Reading every id of that window (100 a call) and matching IMEI and service
decides it: found -> `pending` with its id (its result then comes by polling). Absence needs
evidence on both sides: LOW and HIGH themselves are read too, and the answers must return them
and every other order of ours in between (an empty or partial answer proves nothing); then no
order for the IMEI -> never created -> `queued` again, sent normally. Nothing is ever re-sent to
find out. An order stays unknown, with a note saying why, when there is no LOW, or the window is
wider than RECONCILE_MAX_IDS.

The tail (no HIGH yet: no order of ours was sent after it, e.g. the last orders of the last batch
hit by an outage): TAIL_IDS ids above LOW are read, which finds the order if it was created.
Absence cannot be proven without an upper end (other accounts' ids are invisible to getimeis), so
an order not found there stays unknown, with a note, until the next order this account places
(any batch) gives its window an upper end.

The driver plans on its main thread, reads on its poll executor and records on its main thread
(`Reconciler`); the every-minute `ensure_driver` task runs it inline (`run_inline`).
"""

import logging
import time

from django.conf import settings

from orders.models import Batch, Order

from ..provider.client import MAX_IDS_PER_CALL
from .id_window import window_of

log = logging.getLogger(__name__)

ORDERS_PER_PASS = 50
NO_HIGH = "no order sent after it has been placed yet (upper end of its id window)"
FOUND = "Found again by reading provider ids {}–{} (getimeis), matched on IMEI and service: {}"
ABSENT = (
    "Never created: provider ids {}–{} were all read (getimeis) and none is for this IMEI "
    "and service; sending it normally."
)


INCOMPLETE = (
    "the provider's answer for ids {}–{} left out orders of ours it must hold, so it proves "
    "nothing absent"
)


def plan(limit=ORDERS_PER_PASS):
    """Windows to read this pass (at most RECONCILE_MAX_IDS ids); notes on the undecidable."""
    windows, budget = [], settings.RECONCILE_MAX_IDS
    unknown = Order.objects.filter(status=Order.Status.UNKNOWN).select_related("service")
    for order in unknown.order_by("-id")[:limit]:  # the newest first: old undecidable ones wait
        window = window_of(order)
        if isinstance(window, str):
            note_unresolved(order, window)
        elif len(window.ids) <= budget:
            windows.append(window)
            budget -= len(window.ids)
    return windows


def note_unresolved(order, why):
    order.note_unresolved(f"Still unknown after looking for it again: {why}.")


def read(client, windows):
    """Runs in a pool thread (no database): every id of the windows, 100 a call.

    Returns ({remote_id: RemoteOrder}, ids read); a failed call leaves its ids unread.
    """
    ids = sorted({i for window in windows for i in window.read_ids})
    found, done = {}, set()
    for start in range(0, len(ids), MAX_IDS_PER_CALL):
        chunk = ids[start : start + MAX_IDS_PER_CALL]
        try:
            remotes = client.order_statuses(chunk)
        except Exception as exc:  # a read failed: those windows wait for the next pass
            log.warning("Reconciliation: getimeis for %d ids failed: %s", len(chunk), exc)
            continue
        found.update((remote.remote_id, remote) for remote in remotes)
        done.update(chunk)
    return found, done


def record(windows, answer):
    """Decide each fully read window; returns (found, requeued)."""
    found_by_id, done = answer
    found = requeued = 0
    for window in windows:
        if not done.issuperset(window.read_ids):
            continue
        complete = window.ours.issubset(found_by_id)
        remotes = [found_by_id[i] for i in window.ids if i in found_by_id]
        outcome = decide(window, remotes, complete)
        found += outcome == "found"
        requeued += outcome == "absent"
    if found or requeued:
        log.warning("Reconciliation: %d unknown orders found, %d never created", found, requeued)
    return found, requeued


def decide(window, remotes, complete):
    order = window.order
    same_imei = [r for r in remotes if r.imei == order.imei]
    matches = [r for r in same_imei if r.package == order.service.title]
    if len(matches) == 1 and len(same_imei) == 1:
        return mark_found(window, matches[0])
    if same_imei:
        note_unresolved(order, "an order for this IMEI in its id window does not match its service")
        return "undecided"
    if window.open_ended:
        note_unresolved(order, f"{NO_HIGH}; ids {'–'.join(map(str, window.describe()))} hold none")
        return "undecided"
    if not complete:
        note_unresolved(order, INCOMPLETE.format(window.low, window.high))
        return "undecided"
    if order.requeue_not_placed(ABSENT.format(*window.describe())):
        reopen_batch(order)
        return "absent"
    return "undecided"


def mark_found(window, remote):
    order = window.order
    if Order.objects.filter(remote_id=remote.remote_id).exists():
        note_unresolved(order, f"provider order {remote.remote_id} is already recorded")
        return "undecided"
    detail = FOUND.format(*window.describe(), remote.raw)
    # As placed and Pending: polling then brings its status and result as for any order.
    if order.mark_placed(remote.remote_id, "Pending", detail):
        reopen_batch(order)
        return "found"
    return "undecided"


def reopen_batch(order):
    """A done batch runs again for an order found or re-queued; a cancelled one cancels it."""
    batch = Batch.objects.get(pk=order.batch_id)
    if batch.state == Batch.State.DONE:
        batch.resume()
    elif batch.state == Batch.State.CANCELLED and order.status == Order.Status.QUEUED:
        order.cancel()


class Reconciler:
    """One reconciliation pass every RECONCILE_SECONDS inside the driver."""

    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self.next_run = clock()
        self.future = None
        self.windows = None

    def start(self, pool, client):
        if self.future is not None or self.clock() < self.next_run:
            return
        self.next_run = self.clock() + settings.RECONCILE_SECONDS
        windows = plan()
        if windows:
            self.windows, self.future = windows, pool.submit(read, client, windows)

    def record_if_done(self):
        if self.future is None or not self.future.done():
            return
        windows, future = self.windows, self.future
        self.windows = self.future = None
        record(windows, future.result())


def run_inline(client_factory):
    """One pass now, in the caller's thread (the `ensure_driver` task)."""
    windows = plan()
    if not windows:
        return 0, 0
    client = client_factory()
    try:
        return record(windows, read(client, windows))
    finally:
        client.close()
