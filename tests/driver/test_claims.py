"""The claim's order: urgent batches first, the others share the slots by priority."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from orders.models import Batch, Order
from submissions.driver import Driver, claims, lease
from tests.fixtures.driver import ScriptedClient
from tests.fixtures.factories import claim, make_batch

LEASE = timedelta(minutes=1)
URGENT, LOW, HIGH = Batch.Priority.URGENT, Batch.Priority.LOW, Batch.Priority.HIGH


def due(count, in_flight=None):
    with transaction.atomic():
        orders = claims.due_orders(count, in_flight)
    assert len({order.pk for order in orders}) == len(orders), "an order taken twice"
    return [order.batch_id for order in orders]


def test_two_batches_of_one_priority_share_a_claim_equally(db):
    big, small = make_batch(orders=50), make_batch(orders=50)

    assert sorted(due(10)) == [big.pk] * 5 + [small.pk] * 5


def test_the_batch_with_fewer_orders_in_flight_gets_the_freed_slots(db):
    big, small = make_batch(orders=50), make_batch(orders=50)

    assert due(4, in_flight={big.pk: 20}) == [small.pk] * 4
    assert sorted(due(6, in_flight={big.pk: 8, small.pk: 6})) == [big.pk] * 2 + [small.pk] * 4


def test_a_high_batch_gets_twice_a_normal_ones_slots_and_a_low_one_half(db):
    high, normal = make_batch(orders=50, priority=HIGH), make_batch(orders=50)
    low = make_batch(orders=50, priority=LOW)

    taken = due(14)

    assert [taken.count(b.pk) for b in (high, normal, low)] == [8, 4, 2]


def test_urgent_orders_go_first_whatever_is_in_flight(db):
    big = make_batch(orders=50, priority=HIGH)
    urgent = make_batch(orders=3, priority=URGENT)

    assert due(5, in_flight={urgent.pk: 40}) == [urgent.pk] * 3 + [big.pk] * 2


def test_a_batch_with_fewer_due_orders_than_its_share_leaves_the_rest_to_the_others(db):
    big, small = make_batch(orders=50), make_batch(orders=2)
    waiting = make_batch(orders=3)
    waiting.orders.update(next_attempt_at=timezone.now() + LEASE)  # backing off: not due
    paused = make_batch(orders=5, state=Batch.State.PAUSED)

    taken = due(10)

    assert sorted(taken) == [big.pk] * 8 + [small.pk] * 2
    assert paused.pk not in taken


def test_a_second_round_of_a_claim_never_takes_an_order_twice(db):
    big, small = make_batch(orders=50), make_batch(orders=1)

    with transaction.atomic():
        orders = claims.due_orders(10)

    expected = [
        *big.orders.order_by("id")[:5],
        *small.orders.all(),
        *big.orders.order_by("id")[5:9],
    ]
    assert [o.pk for o in orders] == [o.pk for o in expected]


def test_each_batch_is_claimed_in_the_order_of_its_file(db):
    big, small = make_batch(orders=5), make_batch(orders=5)

    with transaction.atomic():
        orders = claims.due_orders(6)

    for batch in (big, small):
        ids = [o.pk for o in orders if o.batch_id == batch.pk]
        assert ids == list(batch.orders.order_by("id").values_list("id", flat=True)[:3])


def test_a_claim_counts_each_batchs_orders_in_flight(db):
    big, small = make_batch(orders=50), make_batch(orders=50)
    claim(list(big.orders.values_list("id", flat=True)[:6]), LEASE)

    with transaction.atomic():
        claimed = claims.claim(limit=10, wanted=10, lease=LEASE)

    assert claimed.in_flight == 6
    assert [o.batch_id for o in claimed] == [small.pk] * 4


def test_a_claim_asks_one_query_per_batch_it_takes_from(db, django_assert_num_queries):
    for _ in range(5):
        make_batch(orders=10)
    make_batch(orders=0)

    with transaction.atomic(), django_assert_num_queries(3):  # live batches, then 2 batches
        claims.due_orders(2)


@pytest.fixture
def driver(db, settings):
    """A driver at concurrency 20 whose calls last 1 s of a manual clock."""
    settings.SUBMIT_CONCURRENCY = 20
    client = ScriptedClient(delay=1)
    driver = Driver(lease.acquire(), 600, lambda: client, clock=client.clock)
    yield driver
    client.clock.advance(5)  # the calls in flight answer: no thread outlives the test
    driver.close()


def run_until(driver, done, seconds):
    """Loop turns until `done()` or `seconds` of the driver's clock; returns the time taken."""
    start = driver.clock.monotonic()
    while not done() and driver.clock.monotonic() - start < seconds:
        driver.step()
    return driver.clock.monotonic() - start


def all_sent(batch):
    return lambda: not batch.orders.filter(status__in=Order.UNSENT_STATUSES).exists()


def test_urgent_orders_are_sent_within_two_seconds_under_a_saturating_batch(driver):
    make_batch(orders=400)
    run_until(driver, lambda: False, 3)
    urgent = make_batch(orders=5, priority=URGENT)

    took = run_until(driver, all_sent(urgent), 10)

    assert took <= 2
    assert driver.sending.client.peak <= 20


def test_a_small_batch_under_a_saturating_one_gets_half_the_slots(driver):
    make_batch(orders=600)
    run_until(driver, lambda: False, 3)
    small = make_batch(orders=150)

    took = run_until(driver, all_sent(small), 60)

    on_half_the_slots = 150 / 10 * 1  # 10 slots, calls of 1 s
    assert took <= 1.5 * on_half_the_slots
    assert driver.sending.client.peak <= 20
