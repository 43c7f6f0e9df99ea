"""Interleavings that could pay twice or lose an answer: a stale answer, a dying driver,
skewed clocks, leases, limits.

Each test reproduces one finding of the review (it failed on the engine before the fix).
"""

import threading
from datetime import timedelta

import pytest
from django.db import InternalError, OperationalError
from django.utils import timezone

from orders.models import Batch, Order
from submissions.driver import Driver, calls, claims, drive, lease
from submissions.models import Dispatcher
from tests.fixtures.driver import (
    ScriptedClient,
    failed,
    new_driver,
    placed,
    run,
)
from tests.fixtures.factories import claim, make_batch, make_order

LEASE = timedelta(minutes=1)


@pytest.fixture
def order(db):
    return make_order(batch=make_batch(state=Batch.State.RUNNING))


def stale_and_fresh_claims(order):
    """A call that outlived its lease, an operator re-submit, and a new claim of the order."""
    (stale,) = claim([order.pk], timedelta(seconds=-1))
    claims.sweep_expired()
    Order.objects.get(pk=order.pk).requeue(include_unknown=True)
    (fresh,) = claim([order.pk], LEASE)
    return stale, fresh


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

    driver.outcomes.record(stale, 0.0, answer)
    untouched = Order.objects.values_list("status", "claim_token", "attempts").get(pk=order.pk)
    driver.outcomes.record(fresh, 0.0, placed(order))
    driver.close()

    assert untouched == (Order.Status.SUBMITTING, fresh.claim_token, 1)
    order.refresh_from_db()
    assert (order.status, order.remote_id) == (Order.Status.PENDING, 15562210)
    assert Batch.objects.get().state == Batch.State.RUNNING  # a stale auth answer pauses nothing


def test_a_stale_placed_answer_records_its_id_and_the_newer_call_changes_nothing(order, enqueued):
    # The one transition that ignores the claim: the answer proves the order exists at the
    # provider, and recording its id never leads to a send.
    stale, fresh = stale_and_fresh_claims(order)
    driver = new_driver()

    driver.outcomes.record(stale, 0.0, placed(order, 15562299))
    driver.outcomes.record(fresh, 0.0, failed("duplicate", "IMEI already exists!"))
    driver.close()

    order.refresh_from_db()
    assert (order.status, order.remote_id, order.cost) == (
        Order.Status.PENDING,
        15562299,
        order.service.price,
    )


def test_the_sweep_spares_an_order_whose_lease_was_renewed_after_it_looked(order, monkeypatch):
    (claimed,) = claim([order.pk], timedelta(seconds=-1))
    original = Order.mark_unknown

    def renewed_meanwhile(self, *args, **kwargs):
        claims.extend_leases([self], LEASE)  # the live driver's housekeeping wins the race
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Order, "mark_unknown", renewed_meanwhile)

    assert claims.sweep_expired() == 0
    assert Order.objects.get(pk=order.pk).status == Order.Status.SUBMITTING


def test_a_driver_keeps_alive_only_the_claims_it_sent(order):
    stale, fresh = stale_and_fresh_claims(order)
    before = Order.objects.values_list("lease_expires_at", flat=True).get(pk=order.pk)

    assert claims.extend_leases([stale], timedelta(hours=1)) == 0
    assert claims.extend_leases([fresh], timedelta(hours=1)) == 1
    after = Order.objects.values_list("lease_expires_at", flat=True).get(pk=order.pk)
    assert after > before + timedelta(minutes=30)


# -- 8. leases follow the database's clock, not each host's ---------------------------------


@pytest.fixture
def skewed(monkeypatch):
    """Make this host's clock run `offset` away from the database's."""
    real_now = timezone.now

    def skew(offset):
        monkeypatch.setattr(timezone, "now", lambda: real_now() + offset)

    return skew


def test_a_host_whose_clock_runs_ahead_does_not_sweep_live_calls(order, skewed):
    claim([order.pk], LEASE)
    skewed(timedelta(hours=1))

    assert claims.sweep_expired() == 0
    assert Order.objects.get(pk=order.pk).status == Order.Status.SUBMITTING


def test_a_host_whose_clock_runs_behind_claims_with_a_live_lease(order, skewed):
    skewed(timedelta(hours=-1))
    claim([order.pk], LEASE)
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


# -- 1. the driver never dies without draining, never drops an answer in hand ----------------


def fail_while(monkeypatch, method, error, condition):
    """Make Order.objects.<method> raise `error` while `condition()` holds, as a database outage."""
    manager = type(Order.objects)
    original = getattr(manager, method)

    def flaky(*args, **kwargs):
        if condition():
            raise error
        return original(*args, **kwargs)

    monkeypatch.setattr(manager, method, flaky)


def once():
    calls = []
    return lambda: not calls and not calls.append(1)


@pytest.fixture
def live_order(transactional_db):
    """An order outside the test's transaction: the driver closes its connection on errors."""
    return make_order(batch=make_batch(state=Batch.State.RUNNING))


def test_a_database_error_at_the_deadline_still_drains_the_calls_in_flight(
    live_order, enqueued, monkeypatch, clock
):
    client = ScriptedClient(delay=5, clock=clock)
    original = lease.release
    failing = once()

    def release(token):
        if failing():
            raise OperationalError("server closed the connection unexpectedly")
        return original(token)

    monkeypatch.setattr(lease, "release", release)

    summary = drive(deadline_seconds=1, client_factory=lambda: client, clock=clock)

    live_order.refresh_from_db()
    assert (live_order.status, live_order.remote_id, summary["placed"]) == (
        Order.Status.PENDING,
        15562210,
        1,
    )


@pytest.mark.parametrize(
    "error",
    [
        InternalError("cannot execute UPDATE in a read-only transaction"),
        RuntimeError("anything else"),
    ],
    ids=["read-only standby", "not a database error"],
)
def test_an_answer_is_recorded_after_any_error_while_recording_it(
    live_order, enqueued, monkeypatch, clock, caplog, error
):
    fail_while(monkeypatch, "mark_placed_in_bulk", error, once())
    client = ScriptedClient(clock=clock)

    summary = drive(deadline_seconds=5, client_factory=lambda: client, clock=clock)

    live_order.refresh_from_db()
    assert (live_order.status, live_order.remote_id, summary["placed"]) == (
        Order.Status.PENDING,
        15562210,
        1,
    )
    assert (
        f"Answer kept until it can be recorded ({error}): order {live_order.pk} "
        f"(IMEI {live_order.imei}, claim " in caplog.text
    )
    assert "placed as 15562210: <result><id>15562210</id></result>" in caplog.text


def test_an_id_beyond_64_bits_keeps_the_order_unknown_with_its_id(order, enqueued, clock):
    huge = 2**63 + 5
    client = ScriptedClient(clock=clock, remote_ids=[huge])

    drive(deadline_seconds=5, client_factory=lambda: client, clock=clock)

    order.refresh_from_db()
    assert (order.status, order.remote_id) == (Order.Status.UNKNOWN, None)
    assert order.last_error == (
        f"Placed as {huge}, an id beyond what the database stores: record it by hand. "
        f"The provider's answer: <result><id>{huge}</id></result>"
    )


def test_a_drain_keeps_an_answer_in_hand_while_the_database_is_down(
    live_order, enqueued, monkeypatch, clock, settings
):
    settings.GSM_FUSION_CONNECT_TIMEOUT, settings.GSM_FUSION_READ_TIMEOUT = 1, 1
    client = ScriptedClient(delay=2, clock=clock)
    back_at = clock.now + 20  # down past the drain's bound for calls (2 * 1 + 1 + 5 s)
    fail_while(
        monkeypatch,
        "mark_placed_in_bulk",
        OperationalError("no connection"),
        lambda: clock.now < back_at,
    )

    drive(deadline_seconds=1, client_factory=lambda: client, clock=clock)

    live_order.refresh_from_db()
    assert (live_order.status, live_order.remote_id) == (Order.Status.PENDING, 15562210)


def test_an_answer_never_recorded_is_logged_in_full_at_exit(
    live_order, enqueued, monkeypatch, clock, caplog, settings
):
    settings.GSM_FUSION_CONNECT_TIMEOUT, settings.GSM_FUSION_READ_TIMEOUT = 1, 1
    fail_while(monkeypatch, "mark_placed_in_bulk", OperationalError("no connection"), lambda: True)
    client = ScriptedClient(clock=clock)

    drive(deadline_seconds=1, client_factory=lambda: client, clock=clock)

    live_order.refresh_from_db()
    assert live_order.status == Order.Status.SUBMITTING  # the sweep takes it, as for a crash
    assert (
        f"Answer never recorded; record it by hand: order {live_order.pk} (IMEI "
        f"{live_order.imei}, claim {live_order.claim_token}) placed as 15562210: "
        "<result><id>15562210</id></result>"
    ) in caplog.text


def test_an_answer_arriving_after_the_driver_stopped_is_still_logged_in_full(
    order, enqueued, clock, caplog, settings, monkeypatch
):
    settings.GSM_FUSION_CONNECT_TIMEOUT, settings.GSM_FUSION_READ_TIMEOUT = 1, 1
    client = ScriptedClient(delay=100, clock=clock)  # slower than any bound: a trickle
    logged, log_late_answer = threading.Event(), calls.log_late_answer

    def log_then_say_so(*args):
        log_late_answer(*args)
        logged.set()

    monkeypatch.setattr(calls, "log_late_answer", log_then_say_so)

    drive(deadline_seconds=1, client_factory=lambda: client, clock=clock)
    clock.advance(100)

    assert logged.wait(10)
    assert (
        f"Late answer after the driver stopped; record it by hand: order {order.pk} (IMEI "
        f"{order.imei}, claim {Order.objects.get(pk=order.pk).claim_token}) placed as 15562210"
    ) in caplog.text


# -- 9. the leases of our calls stay alive: lease lost, drain ---------------------------------


def lease_of(order):
    return Order.objects.values_list("lease_expires_at", flat=True).get(pk=order.pk)


def test_a_driver_that_lost_its_lease_still_keeps_its_calls_alive(order, clock):
    release = threading.Event()
    client = ScriptedClient(gate=release)
    driver = Driver(lease.acquire(), 60, lambda: client, clock=clock)
    driver.refill()
    Order.objects.filter(pk=order.pk).update(lease_expires_at=timezone.now())
    before = lease_of(order)
    Dispatcher.row().update(driver_token=None)  # our lease lapsed; another driver took it

    assert driver.housekeeping() is False
    assert lease_of(order) > before + timedelta(seconds=30)
    release.set()
    driver.close()


def test_the_drain_keeps_the_leases_of_calls_still_running(order, enqueued, clock, monkeypatch):
    client = ScriptedClient(delay=5, clock=clock)  # answers 4 s after the deadline
    extended = []
    original = claims.extend_leases

    def spy(orders, lease_time):
        extended.append((clock.now, [o.pk for o in orders]))
        return original(orders, lease_time)

    monkeypatch.setattr(claims, "extend_leases", spy)
    start = clock.now

    drive(deadline_seconds=1, client_factory=lambda: client, clock=clock)

    during_drain = [ids for at, ids in extended if at > start + 2]
    assert during_drain and all(ids == [order.pk] for ids in during_drain)
    assert Order.objects.get(pk=order.pk).status == Order.Status.PENDING


# -- 10. the 429 limit and the send-rate bucket survive handovers -----------------------------


def test_the_send_rate_bucket_is_not_refilled_by_a_handover(db, enqueued, settings):
    settings.SUBMIT_RATE_PER_MINUTE = 24  # bursts of 2, then one every 2.5 s
    make_batch(orders=6)
    client = ScriptedClient()

    run(client, seconds=1)
    run(client, seconds=1)  # the successor, right after

    assert sum(client.calls.values()) == 2


def test_a_halving_by_the_draining_driver_holds_in_its_successor(db, clock, settings):
    settings.SUBMIT_CONCURRENCY = 8
    batch = make_batch(orders=1)
    Dispatcher.get()
    Dispatcher.row().update(effective_concurrency=6)
    successor = Driver(lease.acquire(), 60, ScriptedClient, clock=clock)
    predecessor = Driver(None, 60, ScriptedClient, clock=clock)
    (claimed,) = claim([batch.orders.get().pk], LEASE)

    predecessor.outcomes.record(claimed, clock.monotonic(), failed("transient", "HTTP 429", 429))
    clock.advance(60)
    back_dated()
    successor.housekeeping()

    assert Dispatcher.get().effective_concurrency == 4  # 6 halved to 3, crept back by one
    predecessor.close()
    successor.close()


def back_dated():
    """Let the creep's quiet spell pass by the database's clock."""
    if hasattr(Dispatcher, "limit_changed_at"):
        Dispatcher.row().update(limit_changed_at=timezone.now() - timedelta(seconds=60))
