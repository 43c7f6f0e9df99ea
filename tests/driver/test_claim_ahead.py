"""Orders claimed ahead: a freed slot is refilled from memory, never past the global cap."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from orders.models import Batch, Order, OrderEvent
from submissions.driver import Driver, claims, lease
from submissions.driver.sending import NOT_SENT_HANDED_OVER
from tests.fixtures.driver import ScriptedClient
from tests.fixtures.factories import claim, make_batch

LEASE = timedelta(minutes=1)


@pytest.fixture
def driver(db, settings):
    """A driver at concurrency 20 (2 orders ahead) whose calls last 1 s of a manual clock."""
    settings.SUBMIT_CONCURRENCY = 20
    client = ScriptedClient(delay=1)
    driver = Driver(lease.acquire(), 60, lambda: client, clock=client.clock)
    yield driver
    client.clock.advance(5)  # the calls in flight answer: no thread outlives the test
    driver.close()


def submitting():
    return Order.objects.in_flight().count()


def test_a_driver_holds_a_tenth_of_its_cap_claimed_ahead_and_sends_only_the_cap(driver):
    make_batch(orders=50)

    driver.refill()

    assert (len(driver.sending.sends), len(driver.sending.ahead), submitting()) == (20, 2, 22)


def test_a_freed_slot_gets_an_order_claimed_ahead_after_one_read_of_the_stop_alone(
    driver, django_assert_num_queries
):
    make_batch(orders=50)
    driver.refill()
    ahead = list(driver.sending.ahead)
    driver.clock.advance(1)  # every call answers
    for future in list(driver.sending.sends):
        future.result(timeout=5)

    # "Stop all sending" is read at most half a second before a call starts (a second passed).
    with django_assert_num_queries(1):
        driver.sending.send_ready()

    sent = {order.pk for order, _ in driver.sending.sends.values()}
    assert {order.pk for order in ahead} <= sent and len(driver.sending.ahead) == 0


def test_other_drivers_calls_in_flight_leave_room_under_the_global_cap(driver):
    batch = make_batch(orders=50)
    claim(list(batch.orders.values_list("id", flat=True)[:15]), LEASE)  # a predecessor's calls

    driver.refill()

    # 20 + 2 ahead - 15 in flight elsewhere: 7 claimed, 5 sent (20 - 15), 2 held.
    assert (len(driver.sending.sends), len(driver.sending.ahead), driver.sending.others) == (
        5,
        2,
        15,
    )


def test_a_hand_over_puts_the_orders_claimed_ahead_back_in_the_queue_unspent(driver):
    make_batch(orders=50)
    driver.refill()
    ahead = [order.pk for order in driver.sending.ahead]

    driver.hand_over()

    rows = Order.objects.filter(pk__in=ahead).values_list("status", "attempts", "last_error")
    assert set(rows) == {(Order.Status.QUEUED, 0, "")}
    assert len(driver.sending.ahead) == 0 and submitting() == 20
    details = OrderEvent.objects.filter(order__in=ahead, to_status=Order.Status.QUEUED)
    assert set(details.values_list("detail", flat=True)) == {NOT_SENT_HANDED_OVER}


def test_stopping_all_sending_puts_the_orders_claimed_ahead_back_in_the_queue(driver):
    make_batch(orders=50)
    driver.refill()
    driver.outcomes.stop_reason = "credentials refused"

    driver.refill()

    assert (len(driver.sending.ahead), submitting()) == (0, 20)


def test_a_turn_that_fails_keeps_the_orders_claimed_ahead_the_database_says_are_ours(
    driver, monkeypatch
):
    make_batch(orders=50)
    driver.refill()
    ahead = list(driver.sending.ahead)
    driver.outcomes.stop_reason = (
        "credentials refused"  # the next turn puts them back in the queue...
    )
    unclaim, calls = Order.unclaim, []

    def fails_on_the_second(order, reason):
        calls.append(order.pk)
        if len(calls) == 2:
            raise RuntimeError("boom")  # ...and fails half-way: its transaction rolls back
        return unclaim(order, reason)

    monkeypatch.setattr(Order, "unclaim", fails_on_the_second)

    with pytest.raises(RuntimeError):
        driver.recording.record([], refill=True)
    assert len(driver.sending.ahead) == 0 and submitting() == 22  # in doubt: none sent from memory

    monkeypatch.setattr(Order, "unclaim", unclaim)
    driver.sending.keep_alive()  # the database says they are still ours

    assert list(driver.sending.ahead) == ahead and submitting() == 22


def test_a_claim_shares_live_batches_in_file_order_skipping_paused_and_backing_off(db):
    older = make_batch(orders=3)
    paused = make_batch(orders=3, state=Batch.State.PAUSED)
    newer = make_batch(orders=3)
    waiting = older.orders.order_by("id").first()
    Order.objects.filter(pk=waiting.pk).update(next_attempt_at=timezone.now() + LEASE)

    with transaction.atomic():
        due = claims.due_orders(4)

    expected = [
        *older.orders.exclude(pk=waiting.pk).order_by("id"),
        *newer.orders.order_by("id")[:2],
    ]
    assert [order.pk for order in due] == [order.pk for order in expected]
    assert not paused.orders.filter(pk__in=[order.pk for order in due]).exists()
