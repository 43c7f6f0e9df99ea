"""The admin index's operations panels: alerts (open first), money over time, top errors."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.utils import timezone

from orders.models import Order, OrderEvent
from portal.admin import dashboard
from submissions.models import Alert, SpendDay, SpendPending
from tests.fixtures.factories import claim, make_batch, make_order

S = Order.Status
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_cache():
    cache.clear()


def test_the_alerts_panel_lists_open_alerts_before_cleared_ones(staff_client):
    now = timezone.now()
    Alert.objects.create(
        key="spend", title="Spend today over the limit", opened_at=now - timedelta(hours=3),
        closed_at=now - timedelta(hours=2),
    )  # fmt: skip
    Alert.objects.create(key="unknown_orders", title="Orders with an unknown outcome", detail="2")
    Alert.objects.create(
        key="provider_down", title="Provider unreachable", opened_at=now - timedelta(days=9),
        closed_at=now - timedelta(days=8),
    )  # fmt: skip

    html = staff_client.get("/admin/").content.decode()

    assert html.index("OPEN</span> Orders with an unknown outcome") < html.index(
        "cleared: Spend today over the limit"
    )
    assert "Provider unreachable" not in html  # cleared more than a week ago


def test_spend_today_this_week_and_this_month_come_from_the_spend_ledger(monkeypatch):
    now = timezone.make_aware(timezone.datetime(2026, 12, 10, 12, 0))  # a Thursday
    for days_ago, cost in [(0, "1.00"), (2, "2.00"), (5, "4.00"), (12, "8.00")]:
        day = timezone.localdate(now - timedelta(days=days_ago))
        SpendDay.objects.create(day=day, service_id=1739, committed=Decimal(cost))
    SpendPending.objects.create(service_id=1739, delta=Decimal("0.50"), at=now)  # not folded

    assert dashboard.spend_totals(now) == {"today": "1.50", "week": "3.50", "month": "7.50"}


def test_orders_and_success_per_day_for_14_days():
    now = timezone.now()
    batch = make_batch(orders=0)
    yesterday = now - timedelta(days=1)
    for status in [S.COMPLETED, S.COMPLETED, S.COMPLETED, S.FAILED, S.PENDING, S.CANCELLED]:
        make_order(batch=batch, status=status, created_at=yesterday)
    make_order(batch=batch, status=S.COMPLETED, created_at=now - timedelta(days=20))

    days = dashboard.daily(now)

    assert len(days) == 14
    assert days[-1]["day"] == timezone.localdate(now)
    row = days[-2]
    assert (row["orders"], row["completed"], row["success_percent"]) == (6, 3, 75.0)
    assert sum(d["orders"] for d in days) == 6
    assert days[0]["success_percent"] is None


def test_top_errors_of_the_last_24_hours_link_to_their_orders():
    now = timezone.now()
    order = make_order(status=S.QUEUED, last_error="HTTP 502: try again later")
    events = [
        (5, "HTTP 502: try again later"),
        (6, "HTTP 502: try again later"),
        (7, "Could not connect: refused"),
        (25 * 60, "old error"),
    ]
    for minutes_ago, detail in events:
        OrderEvent.objects.create(
            order=order, from_status=S.SUBMITTING, to_status=S.QUEUED, detail=detail,
            at=now - timedelta(minutes=minutes_ago),
        )  # fmt: skip

    errors = dashboard.top_errors(now)

    assert [(e["error"], e["count"], e["orders"]) for e in errors] == [
        ("HTTP 502: try again later", 2, 1),
        ("Could not connect: refused", 1, 1),
    ]
    assert errors[0]["url"] == "/admin/orders/order/?last_error=HTTP+502%3A+try+again+later"


def test_the_index_shows_the_money_panel(staff_client):
    order = make_order()
    claim([order.pk], timedelta(minutes=1))  # the ledger reserves its price

    html = staff_client.get("/admin/").content.decode()

    assert 'id="spend-today">$0.08<' in html
    assert "Top errors, last 24 hours" in html
    assert "Last 14 days" in html


def test_a_user_without_order_access_sees_no_panels(client, django_user_model):
    user = django_user_model.objects.create_user("nobody", password="x-pass-123", is_staff=True)
    client.force_login(user)

    html = client.get("/admin/").content.decode()

    assert "portal-alerts" not in html and "portal-operations" not in html
