"""The driver's loop end to end with a scripted client: it places, polls and finishes a batch."""

from collections import Counter

from orders.models import Batch, Order
from tests.fixtures.driver import ScriptedClient, run
from tests.fixtures.factories import make_batch

COMPLETED_CODE = "Model: iPhone 11 Purple 64GB<br>Carrier: T-Mobile<br>SimLock: Locked"


def test_it_places_queued_orders_and_starts_then_finishes_the_batch(db, enqueued, settings):
    settings.STATUS_POLL_SECONDS = 0.1
    batch = make_batch(orders=3, state=Batch.State.QUEUED)
    client = ScriptedClient(remote_status="Completed", code=COMPLETED_CODE)

    summary = run(client)

    assert summary["placed"] == 3
    assert set(Order.objects.values_list("status", flat=True)) == {Order.Status.COMPLETED}
    assert Order.objects.filter(remote_id__isnull=True).count() == 0
    assert Order.objects.filter(carrier="T-Mobile", cost="0.08").count() == 3
    batch.refresh_from_db()
    assert (batch.state, batch.started_at is not None) == (Batch.State.DONE, True)
    assert client.calls == Counter({o.imei: 1 for o in batch.orders.all()})
    assert enqueued == []
