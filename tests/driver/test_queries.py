"""Query budget of the engine's per-order path: flat in the batch size."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

import submissions.driver
from orders.models import Batch, Order
from submissions.driver import claims, drive
from submissions.provider import GsmFusionClient
from tests.fixtures.driver import answered, new_driver
from tests.fixtures.factories import claim, make_batch, make_order

# Measured 1.85 to 2.0 (SQLite and PostgreSQL): the UPDATE of `placed` and of `completed`.
# Their events go in one INSERT per loop turn or poll chunk (transitions_in_bulk), with one
# commit; claims, housekeeping and polls are per turn or per chunk. It was 7.9 with a
# transaction (savepoint, UPDATE, INSERT) per answer and per result.
QUERIES_PER_ORDER = 2.5
# With 10 in flight, the orders come in claims of a few (as the answers free slots), each
# claim a handful of queries: measured 5.0 to 7.4 per order (11 to 12.3 before); how many
# claims depends on how the answers interleave.
QUERIES_PER_ORDER_IN_SMALL_CLAIMS = 9


@pytest.fixture
def drive_batch(make_fake_provider, clock, settings, monkeypatch):
    """Drive one batch of `size` orders to completed; returns the queries the driver ran.

    With the default concurrency every order of a batch fits in one claim, so the count does
    not depend on how the calls' answers happen to interleave with the claims.
    """
    settings.STATUS_POLL_SECONDS = 1
    monkeypatch.setattr(submissions.driver, "enqueue", lambda: None)
    make_fake_provider(clock=clock, latency=0.5, complete_after=0)

    def drive_one(size, concurrency=60):
        settings.SUBMIT_CONCURRENCY = concurrency
        batch = make_batch(orders=size, state=Batch.State.QUEUED)
        with CaptureQueriesContext(connection) as queries:
            drive(60, GsmFusionClient.from_settings, clock=clock)
        assert batch.orders.filter(status=Order.Status.COMPLETED).count() == size
        return len(queries)

    return drive_one


def test_queries_per_order_stay_flat_as_the_batch_grows(db, drive_batch):
    small = drive_batch(10)
    large = drive_batch(50)

    per_extra_order = (large - small) / 40
    assert per_extra_order <= QUERIES_PER_ORDER, (small, large)
    assert large / 50 <= small / 10


def test_queries_per_order_stay_flat_when_orders_are_claimed_a_few_at_a_time(db, drive_batch):
    small = drive_batch(10, concurrency=10)
    large = drive_batch(50, concurrency=10)

    per_extra_order = (large - small) / 40
    assert per_extra_order <= QUERIES_PER_ORDER_IN_SMALL_CLAIMS, (small, large)
    assert large / 50 <= small / 10


# -- exact counts of the hot paths (measured; a new query fails here, by design) ----------------
# Measured on SQLite and on PostgreSQL: the same numbers on both.
CLAIM_QUERIES = 18  # a claim of 10 orders from 3 live batches
RECORDING_QUERIES = 4  # a group of placed answers, however many


def test_a_claim_runs_an_exact_number_of_queries(transactional_db, django_assert_num_queries):
    for _ in range(3):
        make_batch(orders=10, state=Batch.State.RUNNING)

    with django_assert_num_queries(CLAIM_QUERIES):
        claimed = claims.claim(limit=10, wanted=10, lease=timedelta(minutes=1))

    assert len(claimed) == 10


@pytest.mark.parametrize("answers", [1, 3, 10])
def test_a_recording_group_runs_the_same_exact_number_of_queries_for_any_number_of_answers(
    transactional_db, django_assert_num_queries, answers
):
    batch = make_batch(state=Batch.State.RUNNING)
    sent = claim([make_order(batch=batch).pk for _ in range(answers)], timedelta(minutes=1))
    driver = new_driver()
    futures = answered(driver, sorted(sent, key=lambda order: order.pk))

    with django_assert_num_queries(RECORDING_QUERIES):
        driver.recording.record(futures)

    assert batch.orders.filter(status=Order.Status.PENDING).count() == answers
    assert driver.outcomes.summary["placed"] == answers
