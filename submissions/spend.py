"""Spend that cannot run away: the ledger's totals and the caps a claim checks.

The ledger (`SpendEntry`) is written by a database trigger on every order move that moves
money (submissions/migrations/0011_spend_trigger.py); each line's delta also goes to a small
queue (`SpendPending`). A claim, under the dispatcher row lock, folds that queue into the day
totals (`SpendDay`) and takes only orders whose price fits under every cap, in the claim's
transaction: two drivers can never overrun a cap, not even by one order. Nothing else folds
(it needs the lock), and a line of a transaction not yet committed is invisible to the fold
and waits for the next one: the totals are exact without a lock on any counter row. See
docs/spend.md.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import F, Min, Q, Sum
from django.utils import timezone

from orders.models import Batch, BatchStatusCount, Order

from .models import Control, SpendDay, SpendPending

ZERO = Decimal("0.00")
WARN_SHARE = Decimal("0.8")  # the warning: committed plus queued reaches 80 % of a cap


@dataclass(frozen=True)
class Caps:
    """The caps in force, in USD (None = no cap), and the approval threshold."""

    daily: Decimal | None
    monthly: Decimal | None
    approval_threshold: Decimal | None = None

    @property
    def any(self):
        return self.daily is not None or self.monthly is not None


def caps(control=None):
    """The operator's values on the controls row, else the settings."""
    if control is None:
        control = Control.objects.filter(pk=Control.ROW_ID).first() or Control()

    def pick(value, setting):
        return value if value is not None else setting

    return Caps(
        daily=pick(control.spend_cap_daily, settings.SPEND_CAP_DAILY),
        monthly=pick(control.spend_cap_monthly, settings.SPEND_CAP_MONTHLY),
        approval_threshold=pick(control.approval_threshold, settings.APPROVAL_THRESHOLD),
    )


@dataclass(frozen=True)
class Committed:
    """Committed spend (reserved plus charged, less released and refunded), in USD."""

    today: Decimal
    month: Decimal


def fold():
    """Add the pending deltas to the day totals. Only under the dispatcher row lock."""
    pending = list(SpendPending.objects.values_list("pk", "service_id", "delta", "at"))
    if not pending:
        return 0
    sums = defaultdict(Decimal)
    for _, service_id, delta, at in pending:
        sums[(timezone.localdate(at), service_id)] += delta
    for (day, service_id), delta in sorted(sums.items()):
        day_row = SpendDay.objects.filter(day=day, service_id=service_id)
        if not day_row.update(committed=F("committed") + delta):
            SpendDay.objects.create(day=day, service_id=service_id, committed=delta)
    SpendPending.objects.filter(pk__in=[row[0] for row in pending]).delete()
    return len(pending)


def committed(now, with_pending=False):
    """Today's and this month's committed spend from the day totals.

    A claim folds first; a page adds the deltas not folded yet instead (`with_pending`: no
    lock, a few recent rows), counted as today's.
    """
    today = timezone.localdate(now)
    totals = SpendDay.objects.filter(day__gte=today.replace(day=1), day__lte=today).aggregate(
        month=Sum("committed"), today=Sum("committed", filter=Q(day=today))
    )
    extra = ZERO
    if with_pending:
        extra = SpendPending.objects.aggregate(s=Sum("delta"))["s"] or ZERO
    return Committed(
        today=(totals["today"] or ZERO) + extra, month=(totals["month"] or ZERO) + extra
    )


def fit(orders, now, in_force):
    """The orders whose price fits under every cap, in their order; folds the ledger first.

    Called by `claims.claim` under the dispatcher lock, in the claim's transaction. An order
    that does not fit is skipped, and a cheaper one after it may still fit.
    """
    fold()
    if not in_force.any or not orders:
        return orders
    spent = committed(now)
    left = [
        cap - total
        for cap, total in ((in_force.daily, spent.today), (in_force.monthly, spent.month))
        if cap is not None
    ]
    taken = []
    for order in orders:
        price = order.service.price
        if all(price <= room for room in left):
            left = [room - price for room in left]
            taken.append(order)
    return taken


def fold_now():
    """Fold under the dispatcher lock, outside a claim (the pages, the alerts)."""
    from .driver.claims import lock_dispatcher

    with transaction.atomic():
        lock_dispatcher()
        fold()


# -- what the pages and the alerts say ---------------------------------------------------------


def queued_live():
    """Live batches' queued orders: their value at today's prices and the cheapest price."""
    counts = BatchStatusCount.objects.filter(
        status=Order.Status.QUEUED, orders__gt=0, batch__state__in=Batch.LIVE_STATES
    )
    return counts.aggregate(
        value=Sum(F("orders") * F("batch__service__price")),
        cheapest=Min("batch__service__price"),
    )


@dataclass(frozen=True)
class Standing:
    caps: Caps
    committed: Committed
    queued_value: Decimal
    cheapest_queued: Decimal | None

    def reached(self):
        """The cap that stops sending now ("daily", "monthly"), or None."""
        if self.cheapest_queued is None:
            return None
        for name, cap, total in self.pairs():
            if total + self.cheapest_queued > cap:
                return name
        return None

    def pairs(self):
        pairs = [("daily", self.caps.daily, self.committed.today)]
        pairs.append(("monthly", self.caps.monthly, self.committed.month))
        return [(name, cap, total) for name, cap, total in pairs if cap is not None]

    def reason(self):
        """Why sending pauses, for every page that shows sending; "" while it does not."""
        name = self.reached()
        if name is None:
            return ""
        cap = self.caps.daily if name == "daily" else self.caps.monthly
        spent = self.committed.today if name == "daily" else self.committed.month
        return (
            f"Sending paused: the {name} spend cap (${cap}) is reached (${spent} committed). "
            "Someone allowed to raise the cap can do so on the live controls page."
        )

    def warning(self):
        """At 80 % of a cap, counting what is queued at its price; "" below."""
        for name, cap, total in self.pairs():
            if cap and total + self.queued_value >= cap * WARN_SHARE:
                return (
                    f"The {name} spend cap (${cap}) is at "
                    f"{(total + self.queued_value) * 100 / cap:.0f} % counting what is queued "
                    f"(${total} committed, ${self.queued_value} queued)."
                )
        return ""


def standing(now=None, in_force=None):
    """The caps against what is committed and queued: read only, no lock."""
    now = now or timezone.now()
    queued = queued_live()
    return Standing(
        caps=in_force or caps(),
        committed=committed(now, with_pending=True),
        queued_value=(queued["value"] or ZERO).quantize(Decimal("0.01")),
        cheapest_queued=queued["cheapest"],
    )


def sending_reason(now=None):
    """Why the caps pause sending now, for the pages; "" (one small query) without caps."""
    in_force = caps()
    return standing(now, in_force).reason() if in_force.any else ""


def totals(now):
    """Committed spend today, this week (from Monday) and this month, for the dashboard."""
    today = timezone.localdate(now)
    week, month = today - timedelta(days=today.weekday()), today.replace(day=1)
    days = SpendDay.objects.filter(day__gte=min(week, month), day__lte=today)
    sums = days.aggregate(
        today=Sum("committed", filter=Q(day=today)),
        week=Sum("committed", filter=Q(day__gte=week)),
        month=Sum("committed", filter=Q(day__gte=month)),
    )
    pending = SpendPending.objects.aggregate(s=Sum("delta"))["s"] or ZERO
    return {name: (value or ZERO) + pending for name, value in sums.items()}
