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
    qcluster, make_fake_provider, settings
):
    settings.SUBMIT_CONCURRENCY = 20  # the page's side reads the same setting as the workers
    fake = make_fake_provider(latency=0.3, jitter=0.1, complete_after=60)
    batch = make_batch(orders=600, state=Batch.State.QUEUED)
    qcluster(fake, SUBMIT_CONCURRENCY=20, DRIVER_SECONDS=30)
    services.batch_created(batch)

    estimates = []  # (sent, ETA, when), at a tenth, a third and 60 % sent
    for share in (60, 200, 360):
        wait_for(lambda n=share: progress(batch)["sent"] >= n, 60, f"{share} sent", 0.1)
        seen = progress(batch)
        estimates.append((seen["sent"], seen["eta_send_seconds"], time.monotonic()))
    wait_for(lambda: progress(batch)["unsent"] == 0, 60, "every order is sent", 0.1)
    done_at = time.monotonic()

    for sent, eta, seen_at in estimates:
        actual = done_at - seen_at
        assert eta is not None and abs(eta - actual) <= 0.3 * actual, (sent, eta, actual)
