"""Orders claimed ahead: committed as ours (`submitting` under our claim token), not yet sent.

A freed slot takes its next order from here at once, without a database round trip. Each
order carries the monotonic moment until which its lease is known to be live: from the start
of the claim or renewal that set it (the database sets the lease later than that, by its own
clock, so this is on the safe side). A call starts only while the lease outlives it with a
margin, so a host cut off from the database stops sending within seconds, before another host
may sweep its orders (see `CallWindow`).
"""

from dataclasses import dataclass

START_MARGIN_SECONDS = 2  # a call must end this long before its lease may lapse
URGENT = "urgent"  # orders.models.Batch.Priority.URGENT (this module imports no models)


@dataclass(frozen=True)
class CallWindow:
    """How long a lease lasts, and the longest a call can take (connect + read timeouts)."""

    lease_seconds: float
    call_seconds: float

    def may_start(self, live_until, now):
        return now + self.call_seconds + START_MARGIN_SECONDS <= live_until


class ClaimedAhead:
    """The orders held claimed ahead of the free slots, oldest claim first."""

    def __init__(self, window):
        self.window = window
        self.orders = []
        self.live_until = {}  # order pk -> monotonic seconds

    def __len__(self):
        return len(self.orders)

    def __bool__(self):
        return bool(self.orders)

    def __iter__(self):
        return iter(list(self.orders))

    def add(self, orders, leased_at):
        """Orders whose claim committed; their lease was set after `leased_at` (monotonic).

        Urgent ones ("check now", docs/urgent.md) go before the others: the next free slot.
        """
        for order in orders:
            self.orders.append(order)
            self.live_until[order.pk] = leased_at + self.window.lease_seconds
        self.orders.sort(key=lambda order: getattr(order, "batch_priority", "") != URGENT)

    def renewed(self, orders, leased_at):
        for order in orders:
            if order.pk in self.live_until:
                self.live_until[order.pk] = leased_at + self.window.lease_seconds

    def next_startable(self, now):
        """The first order whose lease outlives a call started now; the expired ones go.

        Returns (order or None, expired orders): an expired order is not sent (another host
        may sweep it to `unknown` and reconcile it), it is left to that sweep.
        """
        expired = []
        while self.orders:
            order = self.orders[0]
            if self.window.may_start(self.live_until[order.pk], now):
                return order, expired
            expired.append(self.pop_first())
        return None, expired

    def pop_first(self):
        order = self.orders.pop(0)
        self.live_until.pop(order.pk, None)
        return order

    def take_all(self):
        orders, self.orders, self.live_until = self.orders, [], {}
        return orders

    def keep_only(self, orders):
        """Keep these (re-read from the database as still ours), in their order."""
        kept = {order.pk for order in orders}
        dropped = [order for order in self.orders if order.pk not in kept]
        self.orders = [order for order in self.orders if order.pk in kept]
        for order in dropped:
            self.live_until.pop(order.pk, None)
        return dropped
