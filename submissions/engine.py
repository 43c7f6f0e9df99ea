"""The driver: one bounded run that sends queued orders and polls results.

Only the main thread touches the database. A ThreadPoolExecutor does the placeorder calls
(one slot per call, so a slow call holds only its own slot) and a second, small one does the
getimeis calls; their results come back as futures and are recorded here, each in its own
transaction, as soon as they finish. See docs/architecture.md.
"""

import logging
import random
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection
from django.utils import timezone

from . import claims, lease, polling, reconcile, refusals, shutdown
from .breaker import CircuitBreaker, is_outage
from .limits import AdaptiveConcurrency, TokenBucket
from .models import Dispatcher
from .provider import GsmFusionClient, ProviderError
from .provider.client import InvalidRequest

log = logging.getLogger(__name__)

WAIT_SECONDS = 0.2  # how long the loop waits for a call to finish before looking again
HOUSEKEEPING_SECONDS = 2  # lease renewal, crash sweep, finished batches, limit creep
IDLE_CLAIM_SECONDS = 1  # after a claim found nothing due, look again this much later
LEASE_MARGIN_SECONDS = 10  # an order's lease outlives its call by this much
MAX_BACKOFF_SECONDS = 300
DATABASE_RETRY_SECONDS = 1  # after a database error, reconnect and carry on this much later
DATABASE_ERRORS = (OperationalError, InterfaceError)
AUTH_NOTE = "Provider rejected our credentials: {} — fix GSM_FUSION_* and resume."
REFUSED = "account-wide refusal"
OUTAGE_NOTE = "Not sent, provider unreachable (no attempt counted): {}"


def drive(deadline_seconds=None, client_factory=None):
    """Run one driver if no other holds the lease; returns a summary (or None if busy)."""
    token = lease.acquire()
    if token is None:
        log.info("Another driver holds the lease; exiting")
        return None
    seconds = deadline_seconds or settings.DRIVER_SECONDS
    factory = client_factory or GsmFusionClient.from_settings
    return Driver(token, seconds, factory).run()


def enqueue_driver():
    """Start a driver task (it exits at once if one is running). Successes are not saved."""
    from django_q.tasks import async_task

    return async_task("submissions.tasks.drive", q_options={"save": False})


def ensure_driver():
    """The schedule's safety net: sweep dead leases, start a driver if work is left."""
    swept = claims.sweep_expired()
    claims.finish_batches()
    reconcile.run_inline(GsmFusionClient.from_settings)
    started = not lease.is_live() and claims.work_remains()
    if started:
        enqueue_driver()
    return {"swept": swept, "started": started}


@dataclass
class Call:
    """One finished placeorder call, as the pool thread saw it."""

    placed: object = None
    error: Exception | None = None
    latency: float = 0.0


def place(client, imei, service_id):
    """Runs in a pool thread: the HTTP call only, no database. Never raises."""
    started = time.monotonic()
    try:
        return Call(placed=client.place_order(imei, service_id), latency=time.monotonic() - started)
    except Exception as exc:  # recorded by the main thread, never lost
        return Call(error=exc, latency=time.monotonic() - started)


def fetch(client, remote_ids):
    """Runs in a poll thread: one getimeis call; returns the orders or the exception."""
    try:
        return client.order_statuses(remote_ids)
    except Exception as exc:  # a failed read only delays the next poll
        return exc


class Driver:
    def __init__(self, token, seconds, client_factory):
        self.token = token
        self.deadline = time.monotonic() + seconds
        self.cap = settings.SUBMIT_CONCURRENCY
        self.limit = AdaptiveConcurrency(self.cap, Dispatcher.get().effective_concurrency)
        self.bucket = TokenBucket(settings.SUBMIT_RATE_PER_MINUTE)
        timeouts = settings.GSM_FUSION_CONNECT_TIMEOUT + settings.GSM_FUSION_READ_TIMEOUT
        self.order_lease = timedelta(seconds=timeouts + LEASE_MARGIN_SECONDS)
        self.drain_seconds = timeouts + 5
        self.poll_seconds = settings.STATUS_POLL_SECONDS
        self.client = client_factory()
        self.poll_client = client_factory()
        self.pool = ThreadPoolExecutor(self.cap, thread_name_prefix="placeorder")
        self.poll_pool = ThreadPoolExecutor(2, thread_name_prefix="getimeis")
        self.sends = {}  # future -> (order, monotonic send time)
        self.polls = {}  # future -> {remote_id: order}
        self.stopped = ""  # why claiming stopped (credentials refused, lease lost)
        self.next_claim = self.next_poll = self.next_housekeeping = 0.0
        self.succeeded = False
        self.error = ""
        self.summary = {"claimed": 0, "placed": 0, "retried": 0, "unknown": 0, "failed": 0}
        self.breaker = CircuitBreaker()
        self.refusals = refusals.RefusalWatch()
        self.reconciler = reconcile.Reconciler()

    def run(self):
        """Send and poll until the deadline, hand over, then drain.

        1. Loop until the deadline: housekeeping every few seconds (renew the lease, sweep
           expired orders, finish batches, creep the limit back up, save last success/error);
           claim due orders into the free slots and submit each to the pool; start a poll
           round when due; wait briefly for the first finished call; record every finished
           call at once. Leave early when nothing is in flight and no work remains.
        2. Hand over BEFORE draining: release the lease and enqueue a successor if work is
           left, so it claims slots as our last calls free them (no throughput dip).
        3. Drain: record the calls still in flight, bounded by the HTTP timeouts. A call
           still running after that keeps its order `submitting`; the sweep makes it unknown.

        A database error (restart, failover, a dropped connection, a lock held too long) costs
        a short pause, not the driver: the calls in flight keep running and their answers are
        recorded once the database is back (see `survive_database_errors`).
        """
        try:
            while self.running() and self.survive_database_errors(self.step):
                pass
            self.hand_over()
            self.drain()
        finally:
            self.close()
        return self.summary

    def running(self):
        """Before the deadline, and no SIGTERM (a deploy): then hand over and drain."""
        return time.monotonic() < self.deadline and not shutdown.requested()

    def survive_database_errors(self, turn, *args):
        """Run one loop turn; on a database error reconnect after a pause and carry on.

        Without this, one dropped connection ended the driver and lost the answers of every
        call in flight: placed and charged orders swept to `unknown`, their ids gone.
        """
        try:
            return turn(*args)
        except DATABASE_ERRORS as exc:
            log.warning("Database error; reconnecting in %d s: %s", DATABASE_RETRY_SECONDS, exc)
            connection.close()
            time.sleep(DATABASE_RETRY_SECONDS)
            return True

    def step(self):
        """One loop turn; False when the driver should stop early."""
        now = time.monotonic()
        if now >= self.next_housekeeping:
            self.next_housekeeping = now + HOUSEKEEPING_SECONDS
            if not self.housekeeping():
                return False
        self.top_up(now)
        self.start_poll(now)
        self.wait_and_record(WAIT_SECONDS)
        self.reconciler.record_if_done()
        return True

    def housekeeping(self):
        if not lease.renew(self.token):
            self.stopped = self.stopped or "lease lost"
            log.error("Driver lease lost; stopping without claiming more")
            return False
        # Our own calls first: one slower than its lease (DNS, a trickling answer) is still
        # ours, and its answer must be recorded, not swept to unknown.
        claims.extend_leases([order.pk for order, _ in self.sends.values()], self.order_lease)
        claims.sweep_expired()
        claims.finish_batches()
        self.limit.creep()
        self.breaker.grow()
        if self.stopped == REFUSED and refusals.resumed():
            self.stopped, self.refusals = "", refusals.RefusalWatch()  # an operator resumed
        self.reconciler.start(self.poll_pool, self.poll_client)
        self.save_health()
        return self.sends or self.polls or claims.work_remains()

    def save_health(self):
        """Last success/error on the Dispatcher: one write per housekeeping, not per order."""
        fields = {}
        if self.succeeded:
            fields["last_success_at"] = timezone.now()
        if self.error:
            fields.update(last_error=self.error, last_error_at=timezone.now())
        if fields:
            Dispatcher.row().update(**fields)
        self.succeeded, self.error = False, ""

    # -- sending -------------------------------------------------------------------------------

    def top_up(self, now):
        wanted = self.bucket.available(self.limit.limit - len(self.sends))
        wanted = self.breaker.allowed(wanted, len(self.sends))
        if self.stopped or wanted <= 0 or now < self.next_claim:
            return
        claimed = claims.claim(self.limit.limit, wanted, self.order_lease)
        self.bucket.take(len(claimed))
        self.breaker.sent(len(claimed))
        self.summary["claimed"] += len(claimed)
        # Nothing due: look again a little later instead of locking the dispatcher each turn.
        self.next_claim = now + IDLE_CLAIM_SECONDS if len(claimed) < wanted else 0.0
        for order in claimed:
            future = self.pool.submit(place, self.client, order.imei, order.service_id)
            self.sends[future] = (order, time.monotonic())

    def record_call(self, order, sent_at, call):
        if call.placed is not None:
            self.breaker.succeeded()
            self.refusals.placed(sent_at)
            self.record_placed(order, call.placed, call.latency)
        elif isinstance(call.error, ProviderError):
            self.record_provider_error(order, sent_at, call.error, call.latency)
        else:
            reason = f"Unexpected error during the call; it may have been placed: {call.error!r}"
            self.record_unknown(order, reason, call.latency)

    def record_placed(self, order, placed, latency):
        self.succeeded = True
        if order.mark_placed(placed.remote_id, placed.status, placed.raw, latency):
            self.summary["placed"] += 1
            return
        order.refresh_from_db(fields=["status", "remote_id"])
        if order.remote_id == placed.remote_id:
            return  # recorded already, by a turn whose commit outlived a database error
        # The answer came after the sweep moved the order on (the call outlived its lease):
        # the provider charged it, and this line is the only place its id is kept.
        self.error = (
            f"Order {order.pk} ({order.imei}) was placed as {placed.remote_id} after it had "
            f"become {order.status}; record that id by hand"
        )
        log.error("%s: %s", self.error, placed.raw)

    def record_provider_error(self, order, sent_at, error, latency):
        self.error = f"{error.kind}: {error.message}"
        if not is_outage(error):
            self.breaker.other_answer()
        elif self.breaker.failed(error, sent_at) and error.kind == ProviderError.TRANSIENT:
            order.release(OUTAGE_NOTE.format(error.message))  # an outage spends no attempt
            return
        if error.kind == ProviderError.DUPLICATE:
            order.mark_duplicate(error.raw or error.message, latency)
        elif error.kind == ProviderError.TRANSIENT:
            self.record_transient(order, sent_at, error, latency)
        elif error.kind == ProviderError.AUTH:
            order.release(f"Not sent: {error.message}")
            self.stop_for_credentials(error.message)
        elif error.kind == ProviderError.PERMANENT:
            self.record_refusal(order, sent_at, error, latency)
        else:
            self.record_unknown(order, error.message, latency)

    def record_transient(self, order, sent_at, error, latency):
        if error.status_code == 429 and self.limit.throttled(sent_at):
            log.warning("HTTP 429: in-flight limit halved to %d", self.limit.limit)
        delay = min(2**order.attempts, MAX_BACKOFF_SECONDS) + random.uniform(0, 1)
        order.mark_retry(error.message, timedelta(seconds=delay), latency)
        self.summary["retried"] += 1

    def record_refusal(self, order, sent_at, error, latency):
        """A provider refusal: this order's fault, or the account's (then stop sending)."""
        text = error.message
        if isinstance(error, InvalidRequest) or not (
            self.stopped == REFUSED
            and text == self.refusals.text
            or self.refusals.refused(order.pk, text, sent_at)
        ):
            order.mark_failed(text, latency)
            self.summary["failed"] += 1
            return
        order.release(refusals.REQUEUED.format(text))  # refused, so not charged
        if self.stopped != REFUSED:
            self.stopped, self.refusals.text = REFUSED, text
            refusals.stop_sending(text)

    def record_unknown(self, order, reason, latency):
        order.mark_unknown(reason, latency)
        self.summary["unknown"] += 1
        self.error = reason

    def stop_for_credentials(self, message):
        if not self.stopped:
            self.stopped = "credentials refused"
            paused = claims.pause_live_batches(AUTH_NOTE.format(message))
            log.error("Provider refused our credentials (%s); paused %d batches", message, paused)

    # -- polling -------------------------------------------------------------------------------

    def start_poll(self, now):
        if self.polls or now < self.next_poll:
            return
        self.next_poll = now + self.poll_seconds
        for orders_by_id in polling.due_chunks():
            future = self.poll_pool.submit(fetch, self.poll_client, list(orders_by_id))
            self.polls[future] = orders_by_id
        if self.polls:
            Dispatcher.row().update(last_poll_at=timezone.now())

    def record_poll(self, orders_by_id, answer):
        if isinstance(answer, Exception):
            polling.record_failure(orders_by_id, answer)
        else:
            polling.record_statuses(orders_by_id, answer)

    # -- the loop's plumbing -------------------------------------------------------------------

    def wait_and_record(self, timeout):
        futures = [*self.sends, *self.polls]
        if not futures:
            time.sleep(timeout)
            return
        done, _ = wait(futures, timeout=timeout, return_when=FIRST_COMPLETED)
        # A call is forgotten only once recorded: if the database fails while recording, the
        # next turn finds the call finished and records it again (the transitions are
        # conditional UPDATEs, so a repeat changes nothing).
        for future in [f for f in done if f in self.sends]:
            self.record_call(*self.sends[future], future.result())
            del self.sends[future]
        # At most one poll chunk (100 orders) a turn: the next turn refills the free slots
        # first, so recording results never stalls sending. Unrecorded chunks stay done and
        # come back at once from the next wait().
        polled = next((f for f in done if f in self.polls), None)
        if polled is not None:
            self.record_poll(self.polls[polled], polled.result())
            del self.polls[polled]

    def hand_over(self):
        # Released first, then checked: a batch committed after the check kicks a driver
        # that finds the lease free.
        lease.release(self.token)
        if claims.work_remains():
            enqueue_driver()

    def drain(self):
        end = time.monotonic() + self.drain_seconds
        while (self.sends or self.polls) and time.monotonic() < end:
            self.survive_database_errors(self.wait_and_record, WAIT_SECONDS)
        if self.sends:
            log.error(
                "%d calls still unanswered after draining; left to the sweep", len(self.sends)
            )
        claims.finish_batches()
        self.save_health()

    def close(self):
        self.pool.shutdown(wait=False)
        self.poll_pool.shutdown(wait=False)
        self.client.close()
        self.poll_client.close()
