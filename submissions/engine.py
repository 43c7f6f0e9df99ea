"""The driver: one bounded run that sends queued orders and polls results.

Only the main thread touches the database. A ThreadPoolExecutor does the placeorder calls
(one slot per call, so a slow call holds only its own slot) and a second, small one does the
getimeis calls; their results come back as futures and are recorded here as soon as they
finish, those of one loop turn in one transaction. See docs/architecture.md.
"""

import copy
import logging
import random
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.db import DatabaseError, connection
from django.utils import timezone

from orders.models import Order, Placed, transitions_in_bulk

from . import (
    ahead,
    calllog,
    claims,
    controls,
    health,
    lease,
    limits,
    polling,
    reconcile,
    refusals,
    shutdown,
)
from .breaker import CircuitBreaker, is_outage
from .clock import SystemClock
from .models import Dispatcher
from .provider import GsmFusionClient, ProviderError
from .provider.client import InvalidRequest

log = logging.getLogger(__name__)

WAIT_SECONDS = 0.2  # how long the loop waits for a call to finish before looking again
HOUSEKEEPING_SECONDS = 2  # lease renewal, crash sweep, finished batches, limit creep
IDLE_CLAIM_SECONDS = 1  # after a claim found nothing due, look again this much later
AHEAD_SHARE = 10  # hold up to 1/10 of the in-flight cap claimed ahead of the free slots
LEASE_MARGIN_SECONDS = 10  # an order's lease outlives its call by this much
MAX_BACKOFF_SECONDS = 300
DATABASE_RETRY_SECONDS = 1  # after a database error, reconnect and carry on this much later
STOP_CHECK_SECONDS = 0.5  # "stop all sending" is read at most this long before a call starts
MAX_REMOTE_ID = 2**63 - 1  # the largest id the database stores (a signed 64-bit integer)
LEFT_TO_THE_SWEEP = "Call still unanswered after draining, left to the sweep: order %s (IMEI %s)"
NEVER_SENT_LEFT_TO_THE_SWEEP = (
    "Claimed ahead, never sent, left to the sweep (then reconciled): order %s (IMEI %s)"
)
LEASE_NOT_KNOWN_LIVE = (
    "Claimed ahead, not sent: its lease is not known to be live (no renewal for a while); "
    "order %s (IMEI %s) waits until the database confirms it is still ours"
)
AUTH_NOTE = "Provider rejected our credentials: {} — fix GSM_FUSION_* and resume."
REFUSED = "account-wide refusal"
NOT_SENT_STOPPED = "Claimed ahead and not sent: sending stopped or held back; back in the queue."
NOT_SENT_HANDED_OVER = "Claimed ahead and not sent: the driver handed over; back in the queue."
OUTAGE_NOTE = "Not sent, provider unreachable (no attempt counted): {}"


def drive(deadline_seconds=None, client_factory=None, clock=None):
    """Run one driver if no other holds the lease; returns a summary (or None if busy)."""
    token = lease.acquire()
    if token is None:
        log.info("Another driver holds the lease; exiting")
        return None
    seconds = deadline_seconds or settings.DRIVER_SECONDS
    factory = client_factory or GsmFusionClient.from_settings
    return Driver(token, seconds, factory, clock=clock).run()


def enqueue_driver():
    """Start a driver task (it exits at once if one is running). Successes are not saved."""
    from django_q.tasks import async_task

    return async_task("submissions.tasks.drive", q_options={"save": False})


def ensure_driver():
    """The schedule's safety net: sweep dead leases, start a driver if work is left."""
    health.beat()
    swept = claims.sweep_expired()
    claims.cancel_stranded()
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


def fetch(client, remote_ids):
    """Runs in a poll thread: one getimeis call; returns the orders or the exception."""
    try:
        return client.order_statuses(remote_ids)
    except Exception as exc:  # a failed read only delays the next poll
        return exc


class Driver:
    def __init__(self, token, seconds, client_factory, clock=None):
        self.token = token
        self.clock = clock or SystemClock()
        self.deadline = self.clock.monotonic() + seconds
        self.controls = controls.effective()  # the operator's: read every housekeeping turn
        self.limits = limits.current(live=self.controls)
        # The longest a call can take: name resolution and connecting (each bounded by the
        # connect timeout, see provider/transport.py), then the read timeout.
        connect, read = settings.GSM_FUSION_CONNECT_TIMEOUT, settings.GSM_FUSION_READ_TIMEOUT
        call_seconds = 2 * connect + read
        self.window = ahead.CallWindow(call_seconds + LEASE_MARGIN_SECONDS, call_seconds)
        self.order_lease = timedelta(seconds=self.window.lease_seconds)
        self.drain_seconds = min(call_seconds + 5, shutdown.STOP_SECONDS)
        self.poll_seconds = settings.STATUS_POLL_SECONDS
        self.client = client_factory()
        self.poll_client = client_factory()
        # Threads start lazily, never more than the calls in flight: room for a raised cap.
        self.pool = ThreadPoolExecutor(controls.MAX_CONCURRENCY, thread_name_prefix="placeorder")
        self.poll_pool = ThreadPoolExecutor(2, thread_name_prefix="getimeis")
        self.sends = {}  # future -> (order, monotonic send time); forgotten once recorded
        self.held = set()  # finished sends whose recording failed: logged, retried
        self.recorded = []  # the sends recorded in the transaction under way
        self.ahead = ahead.ClaimedAhead(self.window)  # sent as slots free up
        # Orders claimed ahead whose state a failed group left in doubt (its COMMIT may have
        # gone through): never sent until the database says they are still ours.
        self.unverified = []
        self.controls_read_at = self.clock.monotonic()
        self.others = 0  # other drivers' calls in flight, as our last claim counted them
        self.polls = {}  # future -> {remote_id: order}
        self.stopped = ""  # why claiming stopped (credentials refused, lease lost)
        self.next_claim = self.next_poll = self.next_housekeeping = 0.0
        self.succeeded = False
        self.error = ""
        self.summary = {"claimed": 0, "placed": 0, "retried": 0, "unknown": 0, "failed": 0}
        self.breaker = CircuitBreaker(clock=self.clock.monotonic)
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
        3. Drain (see `drain`): record the calls still in flight, keeping their leases alive;
           an answer in hand is retried until recorded and logged in full if it never is.

        An error in a turn (a database restart, failover, read-only standby, a dropped
        connection, a lock held too long, a bug) costs a short pause, not the driver: the
        calls in flight keep running and their answers are recorded once the database is back
        (see `survive`). Nothing between the loop and the drain can skip the drain.
        """
        try:
            while self.running() and self.survive(self.step):
                pass
            self.hand_over()
            self.drain()
        finally:
            self.close()
        return self.summary

    def running(self):
        """Before the deadline, and no SIGTERM (a deploy): then hand over and drain."""
        return self.clock.monotonic() < self.deadline and not shutdown.requested()

    def survive(self, turn, *args):
        """Run one turn; on any error reconnect after a pause and carry on (True).

        Without this, one dropped connection (or any other error) ended the driver and lost
        the answers of every call in flight: placed and charged orders swept to `unknown`,
        their ids gone.
        """
        try:
            return turn(*args)
        except DatabaseError as exc:
            log.warning("Database error; reconnecting in %d s: %s", DATABASE_RETRY_SECONDS, exc)
        except Exception:
            log.exception("Driver turn failed; carrying on in %d s", DATABASE_RETRY_SECONDS)
        connection.close()
        self.clock.sleep(DATABASE_RETRY_SECONDS)
        return True

    def step(self):
        """One loop turn; False when the driver should stop early."""
        now = self.clock.monotonic()
        self.send_ready()  # calls that finished while the last turn recorded a poll chunk
        try:
            if now >= self.next_housekeeping:
                self.next_housekeeping = now + HOUSEKEEPING_SECONDS
                if not self.housekeeping():
                    return False
            self.start_poll(now)
        finally:
            # Even when a statement above failed (a lock timeout: a stalled claimer holds the
            # dispatcher row), the answers in hand are recorded and the free slots refilled.
            self.wait_and_record(WAIT_SECONDS, top_up=True)
        self.reconciler.record_if_done()
        return True

    def housekeeping(self):
        # Our own calls first, even when our driver lease is lost: one slower than its lease
        # (a trickling answer) is still ours, and its answer must be recorded, not swept.
        self.keep_calls_alive()
        self.record_held()
        if not lease.renew(self.token):
            self.stopped = self.stopped or "lease lost"
            log.error("Driver lease lost; stopping without claiming more")
            return False
        claims.sweep_expired()
        claims.cancel_stranded()
        claims.finish_batches()
        limits.creep()
        self.apply_limits()
        self.breaker.grow()
        if self.stopped == REFUSED and not refusals.in_force():
            self.stopped = ""  # an operator resumed
        self.reconciler.start(self.poll_pool, self.poll_client)
        self.save_health()
        health.beat()
        return self.sends or self.polls or claims.work_remains()

    def keep_calls_alive(self):
        """Extend the leases of our calls not yet recorded (running, or answered and held), and
        of the orders we hold claimed ahead; decide from the database which of those are ours.

        The orders claimed ahead whose renewal did not take (swept meanwhile), and those a
        failed group left in doubt, are re-read: only the ones still `submitting` under our
        claim are kept (and may be sent), in their order.
        """
        sent = [order for order, _ in self.sends.values()]
        held = list(self.ahead) + self.unverified
        leased_at = self.clock.monotonic()
        renewed = claims.extend_leases(sent + held, self.order_lease)
        if self.unverified or renewed < len(sent) + len(held):
            ours = claims.still_claimed(held)
            for order in self.ahead.keep_only(ours):
                log.warning("Order %s is no longer ours (claimed ahead): not sent", order.pk)
            self.ahead.add([o for o in self.unverified if o in ours], leased_at)
            self.unverified = []
        self.ahead.renewed(list(self.ahead), leased_at)

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

    def apply_limits(self):
        """The limits in force (429s, the operator's live controls): read every turn."""
        self.controls = controls.effective()
        self.controls_read_at = self.clock.monotonic()
        current = limits.current(live=self.controls)
        if current != self.limits:
            log.info("Limits now: %s", current)
            self.limits = current

    # -- sending -------------------------------------------------------------------------------

    def top_up(self):
        """Claim due orders into the free slots and send them (when no answer came to record)."""
        self.record_sends([], top_up=True)

    def ahead_wanted(self):
        """How many orders to hold claimed ahead of the free slots.

        A freed slot then gets its next order from memory at once, instead of waiting for a
        loop turn's claim (a turn is several database round trips). None while the breaker
        limits calls (open, or ramping up after an outage).
        """
        if self.breaker.is_open or self.breaker.ramp is not None:
            return 0
        return self.limits.concurrency // AHEAD_SHARE

    def claim(self):
        """Claim due orders for the free slots and `ahead_wanted()`, in the caller's transaction.

        Not sent here: the claim must be committed first (then `send_ready`).
        """
        now = self.clock.monotonic()
        ahead = self.ahead_wanted()
        stopped = self.sending_stopped()
        if stopped or not ahead:
            self.put_back_ahead(NOT_SENT_STOPPED)
        if stopped:
            return []
        # Ours in `submitting`: sent and not recorded, claimed ahead, and left in doubt.
        held = len(self.sends) - len(self.recorded) + len(self.ahead) + len(self.unverified)
        wanted = self.breaker.allowed(self.limits.concurrency + ahead - held, held)
        if wanted <= 0 or now < self.next_claim:
            return []
        claimed = claims.claim(
            self.limits.concurrency, wanted, self.order_lease, self.controls, ahead
        )
        # The global cap: our sends leave room for other drivers' calls (a predecessor
        # draining after a hand-over). They only finish from then on, so this is on the safe side.
        self.others = max(0, claimed.in_flight - held)
        room = self.limits.concurrency + ahead - claimed.in_flight
        # Nothing more due (or the send rate's bucket is empty): look again a little later
        # instead of locking the dispatcher each turn.
        self.next_claim = now + IDLE_CLAIM_SECONDS if len(claimed) < min(wanted, room) else 0.0
        return claimed

    def send_ready(self):
        """Send orders claimed ahead into the free slots: from memory, no database work.

        Only while sending is not stopped (read at most STOP_CHECK_SECONDS ago) and only
        orders whose lease outlives the call (`ahead.CallWindow`).
        """
        if not self.ahead:
            return
        if self.sending_stopped():
            self.put_back_ahead(NOT_SENT_STOPPED)
            return
        running = sum(1 for future in self.sends if not future.done())
        free = self.limits.concurrency - self.others - running
        for _ in range(max(0, self.breaker.allowed(free, running))):
            if not self.start_next_call():
                break

    def sending_stopped(self):
        """Stopped by the operator or by the driver itself: the operator's stop read fresh."""
        if self.clock.monotonic() - self.controls_read_at >= STOP_CHECK_SECONDS:
            self.controls = controls.effective()
            self.controls_read_at = self.clock.monotonic()
        return bool(self.stopped) or self.controls.sending_stopped or self.limits.sending_stopped

    def start_next_call(self):
        """Start the call of the first order claimed ahead; False when none may start.

        The order leaves the list only once its call has started: a pool that cannot start a
        thread leaves it first in line, never sent twice and never lost.
        """
        now = self.clock.monotonic()
        order, expired = self.ahead.next_startable(now)
        for stale in expired:
            log.warning(LEASE_NOT_KNOWN_LIVE, stale.pk, stale.imei)
        self.unverified += expired
        if order is None:
            return False
        future = self.pool.submit(place, self.client, order.imei, order.service_id, self.clock)
        self.ahead.pop_first()
        self.sends[future] = (order, now)
        self.breaker.sent(1)
        self.summary["claimed"] += 1
        return True

    def put_back_ahead(self, reason):
        """Put the orders claimed ahead back in the queue (no attempt spent, no error).

        If that fails, whether they went back is not known: they wait in `unverified` until
        the database says.
        """
        orders = self.ahead.take_all()
        if not orders:
            return
        try:
            with transitions_in_bulk():
                for order in orders:
                    order.unclaim(reason)
        except Exception:
            self.unverified += orders
            raise

    def record_call(self, order, sent_at, call):
        """Record one answer. Several placed ones go in one UPDATE: `record_placed`."""
        if storable(call):
            self.record_placed([(order, sent_at, call)])
            return
        if call.placed is not None:
            self.breaker.succeeded()
            self.record_unstorable(order, call.placed, call.latency)
        elif isinstance(call.error, ProviderError):
            self.record_provider_error(order, sent_at, call.error, call.latency)
        else:
            reason = f"Unexpected error during the call; it may have been placed: {call.error!r}"
            self.record_unknown(order, reason, call.latency)
        calllog.placeorder(order, call)

    def record_placed(self, calls):
        """Placed answers, `(order, sent_at, call)` each, with storable ids: one UPDATE for all."""
        if not calls:
            return
        answers = [
            Placed(order, call.placed.remote_id, call.placed.status, call.placed.raw, call.latency)
            for order, _, call in calls
        ]
        moved = {id(order) for order in Order.mark_placed_in_bulk(answers)}
        for order, _sent_at, call in calls:
            self.breaker.succeeded()
            self.succeeded = True
            if id(order) in moved:
                self.summary["placed"] += 1
            else:
                self.placed_elsewhere(order, call.placed)
            calllog.placeorder(order, call)

    def record_unstorable(self, order, placed, latency):
        """A placed answer whose id the database cannot store: unknown, to record by hand."""
        self.succeeded = True
        reason = (
            f"Placed as {placed.remote_id}, an id beyond what the database stores: "
            f"record it by hand. The provider's answer: {placed.raw}"
        )
        log.error("Order %s (%s): %s", order.pk, order.imei, reason)
        self.record_unknown(order, reason, latency)

    def placed_elsewhere(self, order, placed):
        """A placed answer its order no longer waits for: recorded already, or to do by hand."""
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
        # `IMEI already exists!` is the provider's expected refusal, not a fault to flag.
        if error.kind != ProviderError.DUPLICATE:
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
            # A stale answer (its order re-claimed since) says nothing about our credentials now.
            if order.release(f"Not sent: {error.message}"):
                self.stop_for_credentials(error.message)
        elif error.kind == ProviderError.PERMANENT:
            self.record_refusal(order, sent_at, error, latency)
        else:
            self.record_unknown(order, error.message, latency)

    def record_transient(self, order, sent_at, error, latency):
        if error.status_code == 429 and limits.throttled(getattr(order, "claimed_at", None)):
            self.limits = limits.current()
            log.warning("HTTP 429: in-flight limit halved to %d", self.limits.concurrency)
        delay = min(2**order.attempts, MAX_BACKOFF_SECONDS) + random.uniform(0, 1)
        order.mark_retry(error.message, timedelta(seconds=delay), latency)
        self.summary["retried"] += 1

    def record_refusal(self, order, sent_at, error, latency):
        """A provider refusal: this order's fault (it fails with the provider's words), or the
        account's (then stop sending). The rule and its memory: submissions/refusals.py."""
        text = error.message
        verdict = (
            refusals.ORDER if isinstance(error, InvalidRequest) else refusals.judge(order, text)
        )
        if verdict == refusals.ORDER:
            if order.mark_failed(text, latency):
                self.summary["failed"] += 1
            return
        # Refused, so not charged. A stale answer (its order re-claimed since) stops nothing.
        released = order.release(refusals.REQUEUED.format(text))
        self.stopped = REFUSED
        if released and verdict == refusals.ACCOUNT_NOW:
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
        calllog.getimeis(orders_by_id, answer)
        if isinstance(answer, Exception):
            polling.record_failure(orders_by_id, answer)
        else:
            self.succeeded = True  # the provider answered: reachable, even with no order sent
            polling.record_statuses(orders_by_id, answer)

    # -- the loop's plumbing -------------------------------------------------------------------

    def wait_and_record(self, timeout, top_up=False):
        """Wait briefly for calls to finish; record them (and refill the free slots: `top_up`)."""
        futures = [f for f in self.sends if f not in self.held] + list(self.polls)
        if top_up and not futures:  # nothing to wait for: claim first
            self.top_up()
            futures = list(self.sends)
        if futures:
            done, _ = self.clock.wait(futures, timeout)
        else:
            done = set()
            self.clock.sleep(timeout)
        if top_up:
            self.send_ready()  # freed slots first, from memory; then the database work
        self.record_sends([f for f in done if f in self.sends], top_up=top_up)
        # At most one poll chunk (100 orders) a turn: the next turn refills the free slots
        # first, so recording results never stalls sending. Unrecorded chunks stay done and
        # come back at once from the next wait().
        polled = next((f for f in done if f in self.polls), None)
        if polled is not None:
            if top_up:
                self.send_ready()  # calls that finished while the turn above was recorded
            self.record_poll(self.polls[polled], polled.result())
            del self.polls[polled]

    def record_sends(self, futures, top_up=False):
        """Record finished calls and claim the slots they free, all in one transaction.

        One commit for every answer of a loop turn and the claim that refills their slots,
        instead of a commit each: on PostgreSQL a commit waits for its WAL flush, and the freed
        slots waited for it. The claimed orders are sent once that commit is done. An error of
        its own (not a database error) in recording an answer other than "placed" holds that
        answer alone (see `record_one`). Any error while recording the placed ones or
        claiming, a database error, or a failed commit holds every answer of the group: each
        is logged in full and retried on its own at the next housekeeping turn (the
        transitions are conditional UPDATEs under the claim token, so a repeat of one whose
        commit outlived the error changes nothing), and claims nothing. Nothing of a failed
        group is kept: the answers were recorded on copies of the orders, and the driver's
        counters and state are put back as they were.
        """
        if not futures and not top_up:
            return
        before, held_ahead = self.state(), list(self.ahead)
        leased_at = self.clock.monotonic()  # the claim below sets its leases after this
        placed = [future for future in futures if storable(future.result())]
        others = [future for future in futures if future not in placed]
        self.recorded, claimed = [], []
        try:
            with transitions_in_bulk():
                self.recorded = [future for future in others if self.record_one(future)]
                self.record_placed([self.answer(future) for future in placed])
                self.recorded += placed
                claimed = self.claim() if top_up else []
        except Exception as exc:
            # The COMMIT may have reached the server before the connection dropped: which
            # orders are claimed under our token is read back, not remembered (`unverified`).
            self.restore(before)
            self.ahead.take_all()
            self.unverified += [o for o in held_ahead + claimed if o not in self.unverified]
            for future in futures:
                self.hold(future, exc)
            raise
        finally:
            recorded, self.recorded = self.recorded, []
        for future in recorded:
            del self.sends[future]
            self.held.discard(future)
        self.ahead.add(claimed, leased_at)
        self.send_ready()

    def answer(self, future):
        """`(order, sent_at, call)` of a finished send, on a copy of the order.

        The transitions update the object they move, and a group rolled back after recording
        an answer must retry it from the order as it was sent.
        """
        order, sent_at = self.sends[future]
        return copy.copy(order), sent_at, future.result()

    def record_one(self, future):
        """Record one answer in a savepoint of the group; False if held for an error of its own.

        Such an error (not a database one) rolls back all this answer wrote, its queued
        events too (a nested `transitions_in_bulk`); the rest of the group goes on. Only
        answers other than "placed" come here, so the savepoints are few.
        """
        try:
            with transitions_in_bulk():
                self.record_call(*self.answer(future))
        except DatabaseError:
            raise
        except Exception as exc:
            self.hold(future, exc)
            return False
        return True

    def state(self):
        """What recording answers changes on the driver, to put back if their group fails.

        Not the orders claimed ahead: after a failed group those are read back from the
        database (`record_sends`).
        """
        summary, breaker = dict(self.summary), copy.copy(self.breaker)
        return summary, breaker, self.stopped, self.limits, self.succeeded, self.error

    def restore(self, state):
        summary, breaker, self.stopped, self.limits, self.succeeded, self.error = state
        self.summary, self.breaker = dict(summary), copy.copy(breaker)

    def hold(self, future, exc):
        if future not in self.held:
            self.held.add(future)
            answer = describe(self.sends[future][0], future.result())
            log.error("Answer kept until it can be recorded (%s): %s", exc, answer)

    def record_held(self):
        """Retry the held answers one at a time: one that keeps failing holds up no other."""
        for future in list(self.held):
            self.record_sends([future])

    def hand_over(self):
        """Put the orders claimed ahead back, release the lease, start a successor.

        Each step on its own (one failing skips none of the others), in this order: the
        successor must find those orders queued. The lease is released before the check for
        work: a batch committed after the check kicks a driver that finds the lease free.
        """
        self.survive(self.put_back_ahead, NOT_SENT_HANDED_OVER)
        self.survive(lease.release, self.token)
        self.survive(self.start_successor)

    def start_successor(self):
        if claims.work_remains():
            enqueue_driver()

    def drain(self):
        """Record the calls still in flight, then wrap up; never dies, never drops an answer.

        1. Wait for running calls for at most `drain_seconds` (a call is bounded by name
           resolution + connect + read timeouts), extending their leases every housekeeping
           turn: the successor's sweep must not take them while we wait.
        2. An answer in hand (received, not yet recorded: the database is down) is retried
           until `shutdown.STOP_SECONDS` from the drain's start (the deploy units wait longer).
        3. Whatever is left is logged in full (order, IMEI, remote id, raw answer).
        """
        started = self.clock.monotonic()
        calls_end = started + self.drain_seconds
        give_up_at = started + shutdown.STOP_SECONDS
        self.next_housekeeping = 0.0
        while self.sends or self.polls:
            now = self.clock.monotonic()
            in_hand = any(future.done() for future in self.sends)
            if now >= give_up_at or (now >= calls_end and not in_hand):
                break
            self.survive(self.drain_turn, now)
        self.give_up()
        self.survive(self.wrap_up)

    def drain_turn(self, now):
        if now >= self.next_housekeeping:
            self.next_housekeeping = now + HOUSEKEEPING_SECONDS
            self.keep_calls_alive()
            self.record_held()
        self.wait_and_record(WAIT_SECONDS)

    def give_up(self):
        for order in [*self.ahead.take_all(), *self.unverified]:
            log.error(NEVER_SENT_LEFT_TO_THE_SWEEP, order.pk, order.imei)
        for future, (order, _) in self.sends.items():
            if future.done():
                answer = describe(order, future.result())
                log.error("Answer never recorded; record it by hand: %s", answer)
            else:
                log.error(LEFT_TO_THE_SWEEP, order.pk, order.imei)
                future.add_done_callback(partial(log_late_answer, order))

    def wrap_up(self):
        claims.cancel_stranded()
        claims.finish_batches()
        self.save_health()

    def close(self):
        self.pool.shutdown(wait=False)
        self.poll_pool.shutdown(wait=False)
        self.client.close()
        self.poll_client.close()
