"""Claims due orders into the free slots and starts their calls; keeps their leases alive.

`Sending` owns the calls in flight (`sends`), the orders claimed ahead of the free slots
(submissions/driver/ahead.py) and those a failed group left in doubt (`unverified`). A call
starts only while sending is not stopped (read at most STOP_CHECK_SECONDS before) and its
order's lease is known to be live; which orders are ours is decided from the database.
"""

import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from orders.bulk import transitions_in_bulk

from .. import controls
from . import claims
from .ahead import CallWindow, ClaimedAhead
from .calls import place

log = logging.getLogger("submissions.driver")

IDLE_CLAIM_SECONDS = 1  # after a claim found nothing due, look again this much later
AHEAD_SHARE = 10  # hold up to 1/10 of the in-flight cap claimed ahead of the free slots
LEASE_MARGIN_SECONDS = 10  # an order's lease outlives its call by this much
STOP_CHECK_SECONDS = 0.5  # "stop all sending" is read at most this long before a call starts
NOT_SENT_STOPPED = "Claimed ahead and not sent: sending stopped or held back; back in the queue."
NOT_SENT_HANDED_OVER = "Claimed ahead and not sent: the driver handed over; back in the queue."
LEASE_NOT_KNOWN_LIVE = (
    "Claimed ahead, not sent: its lease is not known to be live (no renewal for a while); "
    "order %s (IMEI %s) waits until the database confirms it is still ours"
)


class Sending:
    def __init__(self, client, clock, call_seconds, outcomes):
        self.client, self.clock, self.outcomes = client, clock, outcomes
        self.window = CallWindow(call_seconds + LEASE_MARGIN_SECONDS, call_seconds)
        self.order_lease = timedelta(seconds=self.window.lease_seconds)
        # Threads start lazily, never more than the calls in flight: room for a raised cap.
        self.pool = ThreadPoolExecutor(controls.MAX_CONCURRENCY, thread_name_prefix="placeorder")
        self.sends = {}  # future -> (order, monotonic send time); forgotten once recorded
        self.ahead = ClaimedAhead(self.window)
        # Claimed ahead, their state left in doubt by a failed group (its COMMIT may have gone
        # through): never sent until the database says they are still ours.
        self.unverified = []
        self.others = 0  # other drivers' calls in flight, as our last claim counted them
        self.next_claim = 0.0
        self.controls = controls.effective()
        self.controls_read_at = clock.monotonic()

    def read_controls(self):
        self.controls = controls.effective()
        self.controls_read_at = self.clock.monotonic()
        return self.controls

    def stopped(self):
        """Stopped by the operator or by the driver itself: the operator's stop read fresh."""
        if self.clock.monotonic() - self.controls_read_at >= STOP_CHECK_SECONDS:
            self.read_controls()
        # The limits' copy of the switch comes from these same controls, read less often.
        return bool(self.outcomes.stop_reason) or self.controls.sending_stopped

    def ahead_wanted(self):
        """How many orders to hold claimed ahead of the free slots.

        A freed slot then gets its next order from memory at once, instead of waiting for a
        loop turn's claim (a turn is several database round trips). None while the breaker
        limits calls (open, or ramping up after an outage).
        """
        breaker = self.outcomes.breaker
        if breaker.is_open or breaker.ramp is not None:
            return 0
        return self.outcomes.limits.concurrency // AHEAD_SHARE

    def claim(self, answered):
        """Claim due orders for the free slots and `ahead_wanted()`, in the caller's
        transaction; `answered`: our calls whose answers that transaction records.

        Not sent here: the claim must be committed first (then `send_ready`).
        """
        now = self.clock.monotonic()
        ahead, stopped = self.ahead_wanted(), self.stopped()
        if stopped or not ahead:
            self.put_back_ahead(NOT_SENT_STOPPED)
        if stopped:
            return []
        # Ours in `submitting`: sent and not recorded, claimed ahead, and left in doubt.
        held = len(self.sends) - answered + len(self.ahead) + len(self.unverified)
        limits = self.outcomes.limits
        wanted = self.outcomes.breaker.allowed(limits.concurrency + ahead - held, held)
        if wanted <= 0 or now < self.next_claim:
            return []
        claimed = claims.claim(limits.concurrency, wanted, self.order_lease, self.controls, ahead)
        # The global cap: our sends leave room for other drivers' calls (a predecessor
        # draining after a hand-over). They only finish from then on, so this is on the safe side.
        self.others = max(0, claimed.in_flight - held)
        room = limits.concurrency + ahead - claimed.in_flight
        # Nothing more due (or the send rate's bucket is empty): look again a little later
        # instead of locking the dispatcher each turn.
        self.next_claim = now + IDLE_CLAIM_SECONDS if len(claimed) < min(wanted, room) else 0.0
        return claimed

    def send_ready(self):
        """Send orders claimed ahead into the free slots: from memory, no other database work
        than the read of the operator's stop."""
        if not self.ahead:
            return
        if self.stopped():
            self.put_back_ahead(NOT_SENT_STOPPED)
            return
        running = sum(1 for future in self.sends if not future.done())
        free = self.outcomes.limits.concurrency - self.others - running
        for _ in range(max(0, self.outcomes.breaker.allowed(free, running))):
            if not self.start_next_call():
                break

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
        self.outcomes.breaker.sent(1)
        self.outcomes.summary["claimed"] += 1
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

    def doubt(self, orders):
        """A failed group: these orders' claims may or may not have committed."""
        self.ahead.take_all()
        self.unverified += [order for order in orders if order not in self.unverified]

    def keep_alive(self):
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
            self.ahead.add([order for order in self.unverified if order in ours], leased_at)
            self.unverified = []
        self.ahead.renewed(list(self.ahead), leased_at)

    def close(self):
        self.pool.shutdown(wait=False)
        self.client.close()
