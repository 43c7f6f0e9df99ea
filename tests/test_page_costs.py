"""Every daily page costs the same number of queries with a small or a bigger history.

The work of a page must depend on what it shows, not on how many orders exist: each page is
counted, the history grows (more finished batches, orders and events), and it is counted again.
"""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from orders.models import Batch, Order, OrderEvent
from tests.fixtures.factories import make_batch

S = Order.Status


def finished_batch(orders, days_ago):
    """A done batch: mostly completed (T-Mobile), some failed with an error, each with events."""
    at = timezone.now() - timedelta(days=days_ago)
    batch = make_batch(
        orders=orders, state=Batch.State.DONE, created_at=at, started_at=at, finished_at=at
    )
    ids = list(batch.orders.values_list("pk", flat=True))
    failed = ids[: max(orders // 10, 1)]
    Order.objects.filter(pk__in=ids).update(
        status=S.COMPLETED, carrier="T-Mobile", model_name="iPhone 12", cost="0.08"
    )
    Order.objects.filter(pk__in=failed).update(status=S.FAILED, last_error="HTTP 502", cost=0)
    OrderEvent.objects.bulk_create(
        OrderEvent(
            order_id=pk,
            batch=batch,
            from_status=S.SUBMITTING,
            to_status=S.PENDING,
            at=at,
            latency_ms=900,
        )  # fmt: skip
        for pk in ids
    )
    return batch


@pytest.fixture
def history(db):
    """A running batch, an old finished one, and a way to add more of the past."""
    running = make_batch(orders=40, started_at=timezone.now() - timedelta(minutes=2))
    ids = list(running.orders.values_list("pk", flat=True)[:15])
    Order.objects.filter(pk__in=ids).update(status=S.PENDING, cost="0.08")
    old = finished_batch(30, days_ago=50)

    def grow(batches=8, orders=60):
        for n in range(batches):
            finished_batch(orders, days_ago=40 - n)

    return {"running": running, "old": old, "grow": grow}


def pages(history, client):
    running, old = history["running"], history["old"]
    order = old.orders.order_by("pk").first()
    pasted = client.post(
        "/admin/orders/order/imeis/",
        {"imeis": "\n".join(old.orders.values_list("imei", flat=True)[:20])},
    )["Location"]
    base = "/admin/orders/"
    return {
        "batch changelist": f"{base}batch/",
        "one IMEI": f"{base}order/?q={order.imei}",
        "a word": f"{base}order/?q=T-Mobile",
        "order changelist": f"{base}order/",
        "failed orders": f"{base}order/?status__exact=failed",
        "one batch's orders": f"{base}order/?batch__id__exact={old.pk}",
        "admin index": "/admin/",
        "running batch page": f"{base}batch/{running.pk}/change/",
        "its progress JSON": f"{base}batch/{running.pk}/progress.json",
        "old batch page": f"{base}batch/{old.pk}/change/",
        "pasted IMEIs": pasted,
        "one order page": f"{base}order/{order.pk}/change/",
    }


def query_counts(client, urls):
    counts = {}
    for name, url in urls.items():
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url)
        assert response.status_code == 200, name
        counts[name] = len(captured)
    return counts


def test_no_page_runs_more_queries_as_the_history_grows(staff_client, history):
    urls = pages(history, staff_client)
    query_counts(staff_client, urls)  # warm-up: sessions, content types
    small = query_counts(staff_client, urls)

    history["grow"]()
    bigger = query_counts(staff_client, urls)

    assert Order.objects.count() == 40 + 30 + 8 * 60
    assert bigger == small


def test_the_order_list_counts_from_the_counters_or_stops_at_the_cap(
    staff_client, history, monkeypatch
):
    history["grow"]()
    all_orders = staff_client.get("/admin/orders/order/")
    failed = staff_client.get("/admin/orders/order/?status__exact=failed")
    monkeypatch.setattr("portal.admin.counting.COUNT_CAP", 100)
    words = staff_client.get("/admin/orders/order/?q=T-Mobile")

    assert all_orders.context["cl"].result_count == 550
    empty_search = staff_client.get("/admin/orders/order/?q=&p=1")
    assert empty_search.context["cl"].result_count == 550
    assert failed.context["cl"].result_count == 3 + 8 * 6
    assert (words.context["cl"].result_count, words.context["cl"].paginator.capped) == (100, True)
    assert "more than 100 orders" in words.content.decode()
    assert "more than 100 results" in words.content.decode()


def test_the_quick_action_checkbox_is_exactly_djangos(db):
    from django.contrib import admin

    from portal.admin.counting import fast_action_checkbox

    batch = make_batch(source_name="<b>monday</b>.csv")

    assert str(fast_action_checkbox(None, batch)) == str(
        admin.ModelAdmin.action_checkbox(None, batch)
    )
