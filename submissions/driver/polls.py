"""Polling results and reconciling unknown orders, on the driver's small getimeis pool.

Reads run in the pool (no database); what they bring back is recorded on the driver's main
thread, one chunk (100 orders) a loop turn, so recording results never stalls sending.
"""

from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.utils import timezone

from ..models import Dispatcher
from . import calllog, polling, reconcile
from .calls import fetch


class Polls:
    def __init__(self, client, outcomes):
        self.client, self.outcomes = client, outcomes
        self.pool = ThreadPoolExecutor(2, thread_name_prefix="getimeis")
        self.futures = {}  # future -> {remote_id: order}
        self.next_poll = 0.0
        self.reconciler = reconcile.Reconciler()

    def __bool__(self):
        return bool(self.futures)

    def start(self, now):
        """A poll round when due: the awaiting orders' chunks, each one getimeis call."""
        if self.futures or now < self.next_poll:
            return
        self.next_poll = now + settings.STATUS_POLL_SECONDS
        for orders_by_id in polling.due_chunks():
            future = self.pool.submit(fetch, self.client, list(orders_by_id))
            self.futures[future] = orders_by_id
        if self.futures:
            Dispatcher.row().update(last_poll_at=timezone.now())

    def record_one(self, done):
        """Record at most one finished chunk of `done`; True if one was."""
        future = next((f for f in done if f in self.futures), None)
        if future is None:
            return False
        orders_by_id, answer = self.futures.pop(future), future.result()
        calllog.getimeis(orders_by_id, answer)
        if isinstance(answer, Exception):
            polling.record_failure(orders_by_id, answer)
        else:
            self.outcomes.provider_answered = True  # reachable, even with no order sent
            polling.record_statuses(orders_by_id, answer)
        return True

    def start_reconciling(self):
        """A reconciliation pass when due: its id windows read in the pool."""
        self.reconciler.start(self.pool, self.client)

    def record_reconciled(self):
        self.reconciler.record_if_done()

    def close(self):
        self.pool.shutdown(wait=False)
        self.client.close()
