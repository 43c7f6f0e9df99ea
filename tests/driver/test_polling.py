"""Polling: pending orders are asked for 100 ids per call, and only when some await a result."""

import pytest
from django.utils import timezone

from orders.models import Batch, Order
from tests.fixtures.driver import ScriptedClient, run
from tests.fixtures.factories import make_batch, make_order


@pytest.fixture
def order(db):
    return make_order(batch=make_batch(state=Batch.State.QUEUED))


def test_polling_leaves_pending_orders_for_later_and_asks_100_ids_per_call(db, enqueued):
    batch = make_batch(orders=150)
    now = timezone.now()
    for i, o in enumerate(batch.orders.all()):
        Order.objects.filter(pk=o.pk).update(
            status=Order.Status.PENDING, remote_id=1000 + i, next_poll_at=now, submitted_at=now
        )
    client = ScriptedClient(remote_status="Pending")

    run(client, seconds=0.3)

    assert sorted(len(ids) for ids in client.status_calls) == [50, 100]
    assert not batch.orders.filter(next_poll_at__lte=timezone.now()).exists()


def test_no_status_call_is_made_when_no_order_awaits_a_result(order, enqueued):
    client = ScriptedClient()
    Order.objects.update(status=Order.Status.FAILED)

    run(client, seconds=0.3)

    assert client.status_calls == []
