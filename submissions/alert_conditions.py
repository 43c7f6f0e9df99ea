"""What needs a person: each alert condition, a small function of the moment.

Each returns a detail text while its condition holds, None when it does not; `CONDITIONS`
lists them in the order alerts.py evaluates them, the provider's outage first.
"""

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, Q, Sum
from django.utils import timezone

from orders.models import Batch, Order
from orders.stuck import stuck_condition

from . import canary, garbage, health, refunds, spend, statement
from .models import ServiceHold, StatementRun

FAILURE_WINDOW = timedelta(minutes=15)
OPERATOR_PAUSE_PREFIX = "Paused by "  # services.pause_batch's note; any other pause is ours


@dataclass(frozen=True)
class Condition:
    key: str
    title: str
    check: object  # now -> detail text while the condition holds, else None
    follows_outage: bool = False  # held while the provider is out (see alerts.py)
    settling: object = None  # now -> True while it may still turn out to follow an outage


def provider_down(now):
    state = health.provider_state(now)
    if state.state != "down":
        return None
    minutes = (now - state.failing_since).total_seconds() / 60
    since = f"{state.failing_since:%Y-%m-%d %H:%M:%S}"
    return (
        f"No placeorder call answered for {minutes:.0f} min (since {since} UTC) while calls "
        f"fail; last error at {state.last_error_at:%H:%M:%S} UTC."
    )


def batches_paused_by_portal(now):
    paused = Batch.objects.filter(state=Batch.State.PAUSED).exclude(
        note__startswith=OPERATOR_PAUSE_PREFIX
    )
    rows = list(paused.order_by("pk").values_list("pk", "note")[:5])
    if not rows:
        return None
    count = paused.count()
    listed = "; ".join(f"batch {pk}: {note}" for pk, note in rows)
    return f"{count} batches paused by the portal. {listed}"


def unknown_orders(now):
    count = Order.objects.filter(status=Order.Status.UNKNOWN).count()
    if not count:
        return None
    return f"{count} orders in Unknown outcome: they may have been placed; decide about them."


def unknown_orders_recent(now):
    """Every unknown order became unknown less than ALERT_PROVIDER_DOWN_SECONDS ago.

    A call cut off when the provider goes away makes its order unknown at once, before the
    outage is recognised: such orders wait as long as "Provider unreachable" needs to open
    (which then holds them), and reconciliation settles most of them meanwhile.
    """
    since = now - timedelta(seconds=settings.ALERT_PROVIDER_DOWN_SECONDS)
    unknown = Order.objects.filter(status=Order.Status.UNKNOWN)
    settled = unknown.exclude(events__to_status=Order.Status.UNKNOWN, events__at__gt=since)
    return not settled.exists()


def stuck_orders(now):
    stuck = Order.objects.filter(status__in=Order.OPEN_STATUSES).filter(stuck_condition(now))
    count = stuck.count()
    if not count:
        return None
    return f"{count} open orders older than twice their service's delivery time."


def no_worker(now):
    worker = health.worker_state(now)
    if not worker.work_waiting or (worker.alive and worker.driver_alive):
        return None
    seen = f"{worker.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC" if worker.heartbeat_at else "never"
    return f"Work is waiting and no worker is running it (last heartbeat: {seen})."


def failure_rate(now):
    calls = health.call_events(now - FAILURE_WINDOW).aggregate(
        total=Count("id"), failed=Count("id", filter=Q(to_status__in=Order.CALL_ERROR_STATUSES))
    )
    total, failed = calls["total"], calls["failed"]
    if total < settings.ALERT_FAILURE_MIN_CALLS:
        return None
    if failed * 100 <= total * settings.ALERT_FAILURE_PERCENT:
        return None
    return f"{failed} of {total} placeorder calls failed in the last 15 minutes."


def spend_today(now):
    limit = settings.SPEND_ALERT_PER_DAY
    if not limit:
        return None
    start = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    today = Order.objects.filter(created_at__gte=start)
    spent = today.aggregate(s=Sum("cost", filter=~refunds.refunded_q()))["s"] or 0
    spent = Decimal(spent).quantize(Decimal("0.01"))
    if spent <= limit:
        return None
    return f"${spent} spent today, over SPEND_ALERT_PER_DAY (${limit})."


def spend_cap_reached(now):
    return spend.sending_reason(now) or None


def spend_cap_near(now):
    in_force = spend.caps()
    if not in_force.any:
        return None
    standing = spend.standing(now, in_force)
    return None if standing.reached() else standing.warning() or None


def price_rises(now):
    from . import pricerise

    rises = list(pricerise.open_rises()[:5])
    if not rises:
        return None
    listed = "; ".join(f"{r.service.title}: ${r.old_price} -> ${r.new_price}" for r in rises)
    return f"Prices rose; their batches hold until someone acknowledges: {listed}"


def statement_mismatch(now):
    """A day of the last week whose newest statement does not match, not reviewed yet."""
    runs = statement.latest_runs(today=timezone.localdate(now))
    bad = [r for r in runs if r.outcome != StatementRun.Outcome.MATCHED and not r.reviewed_at]
    if not bad:
        return None
    return " ".join(f"{run.day:%Y-%m-%d}: {statement.summary(run)}." for run in bad)


def services_paused(now):
    holds = ServiceHold.objects.filter(paused_at__isnull=False).select_related("service")
    lines = [garbage.describe(hold) for hold in holds.order_by("service_id")]
    return " | ".join(lines) or None


def contract_changed(now):
    return canary.alert_detail()


CONDITIONS = [
    Condition("provider_down", "Provider unreachable", provider_down),
    Condition("batches_paused", "Batches paused by the portal", batches_paused_by_portal),
    Condition(
        "unknown_orders",
        "Orders with an unknown outcome",
        unknown_orders,
        follows_outage=True,
        settling=unknown_orders_recent,
    ),
    Condition("stuck_orders", "Orders stuck", stuck_orders),
    Condition("no_worker", "No live worker while work waits", no_worker),
    Condition("failure_rate", "Failure rate over the limit", failure_rate, follows_outage=True),
    Condition("spend", "Spend today over the limit", spend_today),
    Condition("spend_cap", "Spend cap reached: sending paused", spend_cap_reached),
    Condition("spend_cap_near", "Spend at 80 % of a cap", spend_cap_near),
    Condition("price_rise", "Service prices rose", price_rises),
    Condition("statement", "Provider's books and ours differ", statement_mismatch),
    Condition("garbage", "Service paused: paid results are garbage", services_paused),
    Condition("contract", "Provider answers changed: sending stopped", contract_changed),
]


PROVIDER_DOWN = CONDITIONS[0].key
