"""The year preset's seeding SQL and page list, on a few orders (PostgreSQL only)."""

import pytest
from django.db import connection
from django.db.models import Count

from devtools.benchmark import phases, year
from orders.models import Batch, BatchStatusCount, Order, OrderEvent


@pytest.mark.django_db(transaction=True)
def test_the_year_seed_writes_batches_orders_events_and_their_counts(staff_user, staff_client):
    if connection.vendor != "postgresql":
        pytest.skip("the year preset seeds with PostgreSQL SQL (generate_series)")
    year.seed(staff_user, phases.ensure_service(), batches=3, per_batch=50)

    assert Batch.objects.count() == 3 and Order.objects.count() == 150
    assert list(Batch.objects.order_by("pk").values_list("state", flat=True)) == [
        "done", "done", "running",
    ]  # fmt: skip
    assert OrderEvent.objects.count() == 2 * 50 * 3 + 15 * 3 + 5 * 2
    counted = dict(
        Order.objects.values_list("batch_id", "status")
        .annotate(n=Count("id"))
        .values_list("status")
        .annotate(n=Count("id"))
    )
    kept = {s: sum(c.orders for c in BatchStatusCount.objects.filter(status=s)) for s in counted}
    assert kept == counted
    for name, url in year.page_urls(staff_client, pasted=10).items():
        assert staff_client.get(url).status_code == 200, name
