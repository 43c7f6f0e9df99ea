"""The admin index's operations panels: alerts, live controls, money over time, top errors.

Every query is bounded by a time window on an indexed column (Order.created_at,
OrderEvent (to_status, at)) or reads a small table (alerts, controls), so the panels cost the
same with millions of orders. The money figures are cached for MONEY_CACHE_SECONDS.
"""

from datetime import timedelta
from decimal import Decimal

from django.core.cache import cache
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from orders.models import Order, OrderEvent
from submissions import controls, spend
from submissions.models import Alert, Dispatcher

from .stats import money, order_list_url, percent

Status = Order.Status
DAYS = 14
TOP_ERRORS = 10
RECENT_ALERTS = 5
MONEY_CACHE_SECONDS = 30
PAST_DAYS_CACHE_SECONDS = 600
# Orders that ended, for the day's success rate (open and cancelled ones are left out).
ENDED = ~Q(status__in=[*Order.OPEN_STATUSES, Status.CANCELLED])


def alerts_panel(now=None):
    """Open alerts first (newest first), then the last few cleared in the past week."""
    now = now or timezone.now()
    recent = Q(closed_at=None) | Q(closed_at__gte=now - timedelta(days=7))
    alerts = list(Alert.objects.filter(recent).order_by("-opened_at"))
    cleared = sorted((a for a in alerts if a.closed_at), key=lambda a: a.closed_at, reverse=True)
    return {"open": [a for a in alerts if a.is_open], "cleared": cleared[:RECENT_ALERTS]}


def controls_panel():
    dispatcher = Dispatcher.row().first()
    live = controls.effective()
    lowered = dispatcher.effective_concurrency if dispatcher else None
    return {
        "live": live,
        "throttled_to": lowered if lowered and lowered < live.concurrency else None,
        "changes": controls.recent_changes(),
        "spend": spend.standing() if live.spend_caps.any else None,
    }


def day_start(now):
    return timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)


def spend_totals(now):
    """Spend today, this week (from Monday) and this month, committed (reserved plus charged,
    less released and refunded), from the spend ledger's day totals (submissions/spend.py)."""
    return {name: money(value) for name, value in spend.totals(now).items()}


def daily(now, days=DAYS):
    """Orders, completed, success % and spend per day for the last `days` days, oldest first.

    The days before today barely change (an order's result comes within minutes), so they are
    counted once every PAST_DAYS_CACHE_SECONDS; today is counted at each refresh.
    """
    today = day_start(now)
    first = today - timedelta(days=days - 1)
    key = f"portal-past-days-{first:%Y%m%d}-{days}"
    past = cache.get(key)
    if past is None:
        past = day_rows(Order.objects.filter(created_at__gte=first, created_at__lt=today))
        cache.set(key, past, PAST_DAYS_CACHE_SECONDS)
    by_day = {**past, **day_rows(Order.objects.filter(created_at__gte=today))}
    return [day_figures((first + timedelta(days=n)).date(), by_day) for n in range(days)]


def day_rows(orders):
    """{date: counts} for `orders`: one GROUP BY the local date."""
    rows = (
        orders.annotate(day=TruncDate("created_at", tzinfo=timezone.get_current_timezone()))
        .values("day")
        .annotate(
            orders=Count("id"),
            completed=Count("id", filter=Q(status=Status.COMPLETED)),
            ended=Count("id", filter=ENDED),
            spend=Sum("cost"),
        )
        .order_by("day")
    )
    return {row.pop("day"): row for row in rows}


def day_figures(day, by_day):
    row = by_day.get(day, {"orders": 0, "completed": 0, "ended": 0, "spend": Decimal(0)})
    return {
        "day": day,
        "orders": row["orders"],
        "completed": row["completed"],
        "success_percent": percent(row["completed"], row["ended"]) if row["ended"] else None,
        "spend": money(row["spend"]),
    }


def top_errors(now, limit=TOP_ERRORS):
    """The most frequent call errors of the last 24 hours across all batches, with links."""
    events = OrderEvent.objects.filter(
        at__gte=now - timedelta(hours=24),
        from_status=Status.SUBMITTING,
        to_status__in=Order.CALL_ERROR_STATUSES,
    ).exclude(detail="")
    rows = (
        events.order_by()
        .values_list("detail")
        .annotate(n=Count("id"), orders=Count("order_id", distinct=True))
        .order_by("-n", "detail")[:limit]
    )
    return [
        {"error": error, "count": n, "orders": orders, "url": order_list_url(last_error=error)}
        for error, n, orders in rows
    ]


def money_panel(now=None):
    now = now or timezone.now()
    key = f"portal-money-panel-{day_start(now):%Y%m%d}"
    panel = cache.get(key)
    if panel is None:
        panel = {"spend": spend_totals(now), "days": daily(now), "errors": top_errors(now)}
        cache.set(key, panel, MONEY_CACHE_SECONDS)
    return panel
