"""The batch changelist: one informative row per batch, at a cost that does not grow."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from orders.models import Batch, Order
from tests.fixtures.factories import make_batch, make_service

S = Order.Status
URL = "/admin/orders/batch/"


def set_status(batch, status, count, **fields):
    ids = list(batch.orders.filter(status=S.QUEUED).values_list("pk", flat=True)[:count])
    Order.objects.filter(pk__in=ids).update(status=status, **fields)


def row_of(html, batch):
    start = html.index(f'<a href="/admin/orders/batch/{batch.pk}/change/')
    start = html.rindex("<tr", 0, start)
    return html[start : html.index("</tr>", start)]


def test_a_row_shows_source_service_state_progress_counts_cost_and_timing(staff_client, staff_user):
    service = make_service(title="Apple iPhone IMEI Carrier + Simlock + FMI + GSMA status")
    now = timezone.now()
    batch = make_batch(
        service=service, orders=10, user=staff_user, source_name="monday.csv",
        state=Batch.State.DONE, started_at=now - timedelta(minutes=7),
        finished_at=now - timedelta(minutes=1),
    )  # fmt: skip
    set_status(batch, S.COMPLETED, 6, cost=Decimal("0.08"))
    set_status(batch, S.FAILED, 1, last_error="HTTP 502")
    set_status(batch, S.UNKNOWN, 1)
    set_status(batch, S.PENDING, 2, cost=Decimal("0.08"))

    row = row_of(staff_client.get(URL).content.decode(), batch)

    assert "monday.csv" in row and "Apple iPhone IMEI Carrier…" in row
    assert '<td class="field-state">Done</td>' in row
    assert "seg-completed' style='width: 60.0%'" in row
    assert "seg-failed' style='width: 20.0%'" in row
    assert "Sent 100.0 %, final 80.0 % of 10 orders" in row
    assert '<td class="field-completed">6</td>' in row
    assert "<span class='health-bad'>2</span>" in row
    assert '<td class="field-open">2</td>' in row
    assert '<td class="field-cost">$0.64</td>' in row
    assert '<td class="field-by">staff</td>' in row
    assert "took 6 min 00 s" in row


def test_a_running_batch_shows_its_eta_and_a_paste_says_so(staff_client):
    from tests.fixtures.pages import add_call_events

    now = timezone.now()
    batch = make_batch(orders=200, started_at=now - timedelta(seconds=30))
    ids = list(batch.orders.values_list("pk", flat=True)[:100])
    Order.objects.filter(pk__in=ids).update(status=S.PENDING)
    add_call_events(ids, [1000] * 100, at=[now - timedelta(seconds=i / 5) for i in range(100)])

    row = row_of(staff_client.get(URL).content.decode(), batch)

    assert "pasted IMEIs" in row
    assert "ETA 20 s" in row  # 100 left at 5 a second


@pytest.mark.parametrize("extra_batches", [0, 30])
def test_the_list_costs_the_same_queries_whatever_the_table_holds(staff_client, extra_batches):
    for _ in range(3):
        make_batch(orders=5)
    baseline = queries(staff_client)
    for _ in range(extra_batches):
        make_batch(orders=20, state=Batch.State.DONE)

    assert queries(staff_client) == baseline


def queries(client):
    with CaptureQueriesContext(connection) as captured:
        assert client.get(URL).status_code == 200
    return len(captured)
