"""The batch page's ETA against a real qcluster: it predicts the real sending time."""

import time

import pytest

from orders.models import Batch
from portal.admin.stats import batch_progress
from submissions import services
from tests.fixtures.cluster import wait_for
from tests.fixtures.factories import make_batch

pytestmark = pytest.mark.cluster


def progress(batch):
    return batch_progress(Batch.objects.select_related("service").get(pk=batch.pk))


def test_a_600_order_batch_eta_is_within_30_percent_once_a_tenth_is_sent(
    qcluster, make_fake_provider
):
    fake = make_fake_provider(latency=0.3, jitter=0.1, complete_after=60)
    batch = make_batch(orders=600, state=Batch.State.QUEUED)
    qcluster(fake, SUBMIT_CONCURRENCY=20, DRIVER_SECONDS=30)
    services.batch_created(batch)

    wait_for(lambda: progress(batch)["sent"] >= 60, 60, "a tenth of the batch is sent", 0.1)
    seen_at, eta = time.monotonic(), progress(batch)["eta_send_seconds"]
    wait_for(lambda: progress(batch)["unsent"] == 0, 60, "every order is sent", 0.1)
    actual = time.monotonic() - seen_at

    assert eta is not None
    assert abs(eta - actual) <= 0.3 * actual, (eta, actual)
