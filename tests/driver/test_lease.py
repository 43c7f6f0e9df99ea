"""Leases: the crash sweep, answers after it, the driver lease and ensure()."""

from collections import Counter
from datetime import timedelta

import pytest

from orders.models import Batch, Order
from submissions.driver import Driver, claims, ensure, lease
from submissions.driver.calls import Call
from submissions.provider import PlacedOrder
from tests.fixtures.driver import ScriptedClient, run
from tests.fixtures.factories import claim, make_batch, make_order


@pytest.fixture
def order(db):
    return make_order(batch=make_batch(state=Batch.State.QUEUED))


def test_an_expired_lease_moves_a_submitting_order_to_unknown_and_it_is_not_resent(order, enqueued):
    claim([order.pk], timedelta(seconds=-1))  # claimed by a worker that was killed
    client = ScriptedClient()

    run(client, seconds=0.3)

    order.refresh_from_db()
    assert order.status == Order.Status.UNKNOWN
    assert order.last_error == claims.SWEPT_NOTE
    assert client.calls == Counter()


def test_an_answer_arriving_after_the_sweep_still_records_the_charged_order(order, enqueued):
    (claimed,) = claim([order.pk], timedelta(seconds=-1))
    claims.sweep_expired()  # the call outlived its lease
    driver = Driver(lease.acquire(), 1, ScriptedClient)
    placed = PlacedOrder(15562210, order.imei, "Pending", "<result>15562210</result>")

    driver.outcomes.record(claimed, 0.0, Call(placed=placed, latency=1.0))
    driver.close()

    order.refresh_from_db()
    assert (order.status, order.remote_id, order.cost) == (
        Order.Status.PENDING,
        15562210,
        order.service.price,
    )
    assert driver.outcomes.summary["placed"] == 1


def test_an_answer_for_an_order_re_submitted_meanwhile_logs_its_id(order, enqueued, caplog):
    (claimed,) = claim([order.pk], timedelta(seconds=-1))
    claims.sweep_expired()
    Order.objects.get(pk=order.pk).requeue(include_unknown=True)
    driver = Driver(lease.acquire(), 1, ScriptedClient)
    placed = PlacedOrder(15562210, order.imei, "Pending", "<result>15562210</result>")

    driver.outcomes.record(claimed, 0.0, Call(placed=placed, latency=1.0))
    driver.close()

    order.refresh_from_db()
    assert (order.status, order.remote_id) == (Order.Status.QUEUED, None)
    message = (
        f"Order {order.pk} ({order.imei}) was placed as 15562210 after it had become queued; "
        "record that id by hand"
    )
    assert (driver.outcomes.last_error, driver.outcomes.summary["placed"]) == (message, 0)
    assert f"{message}: <result>15562210</result>" in caplog.text


def test_a_driver_keeps_the_leases_of_its_own_calls_so_the_sweep_spares_them(order):
    (claimed,) = claim([order.pk], timedelta(seconds=-1))

    assert claims.extend_leases([claimed], timedelta(seconds=60)) == 1
    assert claims.sweep_expired() == 0
    assert Order.objects.get(pk=order.pk).status == Order.Status.SUBMITTING


def test_a_second_driver_exits_at_once_while_the_lease_is_live(order, enqueued):
    assert lease.acquire() is not None
    client = ScriptedClient()

    assert run(client) is None
    assert client.calls == Counter()


def test_ensure_driver_sweeps_and_starts_a_driver_only_without_a_live_lease(order, enqueued):
    assert ensure() == {"swept": 0, "started": True}
    lease.acquire()
    assert ensure() == {"swept": 0, "started": False}
    assert enqueued == ["drive"]
