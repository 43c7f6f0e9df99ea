"""Where an unknown order can be: its window of provider ids.

The provider's order ids increase (other customers' orders take ids in between), so an order
created by a call of ours lies strictly between
- LOW: the highest id answered to us before that call was sent, and
- HIGH: the lowest id of an order of ours whose call was sent after that call ended (the moment
  the order became unknown, plus MARGIN for a provider still finishing it).
No HIGH yet (no order of ours sent after it): an open window of TAIL_IDS ids above LOW, which
can find the order but never prove it absent. No LOW, or a window wider than RECONCILE_MAX_IDS:
undecidable, and `window_of` says why.

Every moment compared here is the database's (events' `at`, claims' `claimed_at`), never a
host's: a host whose clock is off cannot make an empty window look like proof.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import Max, Min

from orders.models import Order, OrderEvent

MARGIN = timedelta(seconds=2)  # a call "ended" this long after its order became unknown
LATER_SENDS = 200  # sends after the end looked at for HIGH
EARLIER_PLACED = 200  # placed answers before the send looked at for LOW
TAIL_IDS = 300  # ids read above LOW for an order without HIGH (it can only be found)


@dataclass(frozen=True)
class Window:
    order: Order
    low: int  # exclusive: an order of ours
    high: int  # exclusive: an order of ours, unless open-ended
    open_ended: bool = False  # no HIGH yet: the ids read can find it, never prove it absent
    ours: frozenset = frozenset()  # ids of our orders from LOW to HIGH, both included

    @property
    def ids(self):
        """Where the order can be."""
        return range(self.low + 1, self.high)

    @property
    def read_ids(self):
        """What is read: the window and its two ends, which the answer must return."""
        return range(self.low, self.high + (0 if self.open_ended else 1))

    def describe(self):
        return self.low + 1, self.high - 1


def last_event(order, to_status):
    """The order's latest move into `to_status` (notes that it is still unknown excluded)."""
    events = OrderEvent.objects.filter(order=order, to_status=to_status)
    return events.exclude(from_status=to_status).order_by("-at", "-id").first()


def window_of(order, sent=None, lost=None):
    """The order's Window, or the reason (text) it cannot be decided yet.

    By default its latest call (`sent`, `lost`: its events); the daily statement passes an
    earlier spell's events.
    """
    sent = sent or last_event(order, Order.Status.SUBMITTING)
    lost = lost or last_event(order, Order.Status.UNKNOWN)
    if sent is None or lost is None:
        return "no record of its call"
    low = lowest_end(order, sent)
    if low is None:
        return "no order was placed before it was sent, so its id window has no lower end"
    later = OrderEvent.objects.filter(to_status=Order.Status.SUBMITTING, at__gt=lost.at + MARGIN)
    later_ids = list(later.order_by("at").values_list("order_id", flat=True)[:LATER_SENDS])
    high = Order.objects.filter(pk__in=later_ids, remote_id__isnull=False).aggregate(
        high=Min("remote_id")
    )["high"]
    if high is None:
        return Window(order, low, low + 1 + min(TAIL_IDS, settings.RECONCILE_MAX_IDS), True)
    if high - low - 1 > settings.RECONCILE_MAX_IDS:
        return (
            f"its window of provider ids {low + 1}–{high - 1} is wider than "
            f"RECONCILE_MAX_IDS ({settings.RECONCILE_MAX_IDS}); check the provider's panel"
        )
    ours = Order.objects.filter(remote_id__gte=low, remote_id__lte=high).exclude(pk=order.pk)
    return Window(order, low, high, ours=frozenset(ours.values_list("remote_id", flat=True)))


def lowest_end(order, sent):
    """LOW: the highest id among the last orders whose placed answer was recorded before the
    order's claim, both moments by the database's clock (an answer recorded before the claim
    was in hand before the call went out)."""
    placed = OrderEvent.objects.filter(to_status=Order.Status.PENDING, at__lt=sent.at)
    recent = placed.exclude(order_id=order.pk).order_by("-at").values_list("order_id", flat=True)
    ids = list(recent[:EARLIER_PLACED])
    return Order.objects.filter(pk__in=ids).aggregate(low=Max("remote_id"))["low"]
