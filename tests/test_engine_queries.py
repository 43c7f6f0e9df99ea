"""Query budget of the engine's per-order path: flat in the batch size."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from orders.models import Batch, Order
from submissions import engine
from submissions.provider import GsmFusionClient
from tests.fixtures.factories import make_batch

# Measured 11.5 on SQLite: its share of a claim, the UPDATE and timeline INSERT of `placed`
# and of `completed`, the savepoints around them (the test runs in a transaction). Everything
# else (housekeeping, polls of 100, claims of many) is per turn or per chunk, not per order.
QUERIES_PER_ORDER = 13


@pytest.fixture
def drive_batch(make_fake_provider, clock, settings, monkeypatch):
    """Drive one batch of `size` orders to completed; returns the queries the driver ran."""
    settings.SUBMIT_CONCURRENCY = 5
    settings.STATUS_POLL_SECONDS = 1
    monkeypatch.setattr(engine, "enqueue_driver", lambda: None)
    make_fake_provider(clock=clock, latency=0.5, complete_after=0)

    def drive(size):
        batch = make_batch(orders=size, state=Batch.State.QUEUED)
        with CaptureQueriesContext(connection) as queries:
            engine.drive(60, GsmFusionClient.from_settings, clock=clock)
        assert batch.orders.filter(status=Order.Status.COMPLETED).count() == size
        return len(queries)

    return drive


def test_queries_per_order_stay_flat_as_the_batch_grows(db, drive_batch):
    small = drive_batch(10)
    large = drive_batch(30)

    per_extra_order = (large - small) / 20
    assert per_extra_order <= QUERIES_PER_ORDER, (small, large)
    assert large / 30 <= small / 10
