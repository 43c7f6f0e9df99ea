"""Issue 14's interleavings: a stale answer, a dying driver, skewed clocks, leases, limits.

Each test reproduces one finding of the review (it failed on the engine before the fix).
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from orders.models import Batch, Order
from submissions import claims, engine, lease
from submissions.provider import PlacedOrder
from tests.fixtures.factories import make_batch, make_order
from tests.test_engine import ScriptedClient, error

LEASE = timedelta(minutes=1)


@pytest.fixture
def order(db):
    return make_order(batch=make_batch(state=Batch.State.RUNNING))


@pytest.fixture
def enqueued(monkeypatch):
    calls = []
    monkeypatch.setattr(engine, "enqueue_driver", lambda: calls.append("drive"))
    monkeypatch.setattr(engine, "HOUSEKEEPING_SECONDS", 0.05)
    monkeypatch.setattr(engine, "IDLE_CLAIM_SECONDS", 0.05)
    return calls


def placed(order, remote_id=15562210):
    raw = f"<result><imeis><id>{remote_id}</id></imeis></result>"
    return engine.Call(placed=PlacedOrder(remote_id, order.imei, "Pending", raw), latency=1.0)


def failed(kind, message, status_code=None):
    return engine.Call(error=error(kind, message, status_code), latency=1.0)


def stale_and_fresh_claims(order):
    """A call that outlived its lease, an operator re-submit, and a new claim of the order."""
    (stale,) = Order.claim([order.pk], timedelta(seconds=-1))
    claims.sweep_expired()
    Order.objects.get(pk=order.pk).requeue(include_unknown=True)
    (fresh,) = Order.claim([order.pk], LEASE)
    return stale, fresh


def new_driver(client=None):
    return engine.Driver(lease.acquire(), 1, lambda: client or ScriptedClient())


# -- 2. transitions out of `submitting` belong to one claim -----------------------------------


@pytest.mark.parametrize(
    "answer",
    [
        failed("transient", "HTTP 503: try again later", 503),
        failed("transient", "HTTP 429: try again later", 429),
        failed("auth", "Invalid API Key!"),
        failed("permanent", "Insufficient balance!"),
        failed("duplicate", "IMEI already exists!"),
        failed("unknown_outcome", "No answer in time"),
    ],
    ids=["503", "429", "auth", "permanent", "duplicate", "unknown"],
)
def test_a_stale_answer_leaves_the_order_to_its_new_claim(order, enqueued, answer):
    stale, fresh = stale_and_fresh_claims(order)
    driver = new_driver()

    driver.record_call(stale, 0.0, answer)
    driver.record_call(fresh, 0.0, placed(order))
    driver.close()

    order.refresh_from_db()
    assert (order.status, order.remote_id) == (Order.Status.PENDING, 15562210)
    assert Batch.objects.get().state == Batch.State.RUNNING  # a stale auth answer pauses nothing


def test_a_stale_placed_answer_records_its_id_and_the_newer_call_changes_nothing(order, enqueued):
    # The one transition that ignores the claim: the answer proves the order exists at the
    # provider, and recording its id never leads to a send.
    stale, fresh = stale_and_fresh_claims(order)
    driver = new_driver()

    driver.record_call(stale, 0.0, placed(order, 15562299))
    driver.record_call(fresh, 0.0, failed("duplicate", "IMEI already exists!"))
    driver.close()

    order.refresh_from_db()
    assert (order.status, order.remote_id, order.cost) == (
        Order.Status.PENDING,
        15562299,
        order.service.price,
    )


def test_the_sweep_spares_an_order_whose_lease_was_renewed_after_it_looked(order, monkeypatch):
    (claimed,) = Order.claim([order.pk], timedelta(seconds=-1))
    original = Order.mark_unknown

    def renewed_meanwhile(self, *args, **kwargs):
        claims.extend_leases([self.pk], LEASE)  # the live driver's housekeeping wins the race
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Order, "mark_unknown", renewed_meanwhile)

    assert claims.sweep_expired() == 0
    assert Order.objects.get(pk=order.pk).status == Order.Status.SUBMITTING


# -- 8. leases follow the database's clock, not each host's ---------------------------------


@pytest.fixture
def skewed(monkeypatch):
    """Make this host's clock run `offset` away from the database's."""
    real_now = timezone.now

    def skew(offset):
        monkeypatch.setattr(timezone, "now", lambda: real_now() + offset)

    return skew


def test_a_host_whose_clock_runs_ahead_does_not_sweep_live_calls(order, skewed):
    Order.claim([order.pk], LEASE)
    skewed(timedelta(hours=1))

    assert claims.sweep_expired() == 0
    assert Order.objects.get(pk=order.pk).status == Order.Status.SUBMITTING


def test_a_host_whose_clock_runs_behind_claims_with_a_live_lease(order, skewed):
    skewed(timedelta(hours=-1))
    Order.claim([order.pk], LEASE)
    skewed(timedelta(0))

    assert claims.sweep_expired() == 0
    assert Order.objects.get(pk=order.pk).status == Order.Status.SUBMITTING


def test_a_host_whose_clock_runs_ahead_cannot_take_a_live_driver_lease(db, skewed):
    assert lease.acquire() is not None
    skewed(timedelta(hours=1))

    assert lease.acquire() is None
    assert lease.is_live()


def test_a_driver_lease_taken_by_a_host_behind_is_still_live_for_the_others(db, skewed):
    skewed(timedelta(hours=-1))
    token = lease.acquire()
    assert lease.renew(token)
    skewed(timedelta(0))

    assert lease.acquire() is None
