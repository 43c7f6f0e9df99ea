"""End to end: a real qcluster subprocess drives batches against the fake provider.

These tests check exactly-once placement and crash recovery through the real task queue,
database and loopback HTTP. Timings are generous upper bounds, never asserted figures.
"""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from orders.models import Batch, Order
from submissions import services
from submissions.driver import ensure
from submissions.driver.claims import SWEPT_NOTE
from submissions.driver.sending import AHEAD_SHARE
from submissions.models import Dispatcher
from tests.fixtures.cluster import wait_for
from tests.fixtures.factories import make_batch, make_order

pytestmark = pytest.mark.cluster

OPEN = Order.OPEN_STATUSES


def none_open():
    return not Order.objects.filter(status__in=OPEN).exists()


def placed_count():
    return Order.objects.exclude(remote_id=None).count()


def assert_fake_and_database_agree(fake):
    """Every order the fake created is recorded with its id, or is `unknown` here."""
    recorded = dict(Order.objects.exclude(remote_id=None).values_list("imei", "remote_id"))
    unknown = set(Order.objects.filter(status=Order.Status.UNKNOWN).values_list("imei", flat=True))
    for remote in fake.orders():
        assert recorded.get(remote["imei"]) == remote["id"] or remote["imei"] in unknown, remote
    assert len(recorded) == len(set(recorded.values()))


def test_a_batch_is_placed_exactly_once_within_the_cap_and_completes(qcluster, make_fake_provider):
    fake = make_fake_provider(latency=0.2, jitter=0.05, complete_after=0.5)
    batch = make_batch(orders=200, state=Batch.State.QUEUED)
    qcluster(fake, SUBMIT_CONCURRENCY=8)

    services.batch_created(batch)  # autocommit: the driver task is enqueued at once
    wait_for(none_open, 60, "every order reaches a final state")

    stats = fake.stats()
    assert (stats["orders_created"], stats["imeis_placed_more_than_once"]) == (200, 0)
    assert stats["peak_inflight_placeorders"] <= 8
    assert batch.orders.filter(status=Order.Status.COMPLETED).count() == 200
    assert_fake_and_database_agree(fake)
    wait_for(lambda: Batch.objects.get(pk=batch.pk).state == Batch.State.DONE, 30, "batch done")


def test_killing_the_cluster_mid_batch_places_no_imei_twice(qcluster, make_fake_provider):
    fake = make_fake_provider(latency=0.3, jitter=0.1, complete_after=0.5)
    batch = make_batch(orders=150, state=Batch.State.QUEUED)
    cluster = qcluster(fake, SUBMIT_CONCURRENCY=10)
    services.batch_created(batch)
    wait_for(lambda: placed_count() >= 30, 60, "the first orders are placed")

    cluster.kill()
    # The cluster is dead: let its leases lapse now instead of waiting for them.
    past = timezone.now() - timedelta(seconds=1)
    Order.objects.in_flight().update(lease_expires_at=past)
    Dispatcher.objects.update(driver_expires_at=past)
    qcluster(fake, SUBMIT_CONCURRENCY=10)
    assert ensure()["started"] is True
    wait_for(none_open, 60, "every order is final after the restart")

    stats = fake.stats()
    assert stats["imeis_placed_more_than_once"] == 0
    assert_fake_and_database_agree(fake)
    unknown = batch.orders.filter(status=Order.Status.UNKNOWN)
    # At most the calls in flight at the kill, and the orders claimed ahead (never sent).
    assert unknown.count() <= 10 + 10 // AHEAD_SHARE
    assert set(unknown.values_list("last_error", flat=True)) <= {SWEPT_NOTE}
    placed = batch.orders.filter(status=Order.Status.COMPLETED).count()
    assert placed + unknown.count() == 150


def test_429_answers_lower_the_limit_and_every_order_is_placed_once(qcluster, make_fake_provider):
    fake = make_fake_provider(latency=0.1, max_inflight=3, complete_after=0.3)
    batch = make_batch(orders=40, state=Batch.State.QUEUED)
    qcluster(fake, SUBMIT_CONCURRENCY=12, SUBMIT_MAX_ATTEMPTS=10)

    services.batch_created(batch)
    wait_for(none_open, 90, "every order is final despite the 429s")

    stats = fake.stats()
    assert stats["rejected_429"] > 0
    assert (stats["orders_created"], stats["imeis_placed_more_than_once"]) == (40, 0)
    assert batch.orders.filter(status=Order.Status.COMPLETED).count() == 40
    assert Dispatcher.get().last_throttled_at is not None


def test_refused_credentials_pause_the_batch_and_place_nothing(qcluster, make_fake_provider):
    fake = make_fake_provider()
    batch = make_batch(orders=20, state=Batch.State.QUEUED)
    qcluster(fake, GSM_FUSION_API_KEY="WRONG-WRONG-WRONG-WRONG-WRONG")

    services.batch_created(batch)
    wait_for(lambda: Batch.objects.get(pk=batch.pk).state == Batch.State.PAUSED, 60, "batch paused")

    batch.refresh_from_db()
    assert batch.note == (
        "Provider rejected our credentials: Invalid API Key! — fix GSM_FUSION_* and resume."
    )
    wait_for(lambda: not Order.objects.in_flight().exists(), 30, "in-flight calls recorded")
    assert batch.orders.filter(status=Order.Status.QUEUED, attempts=0).count() == 20
    assert fake.stats()["orders_created"] == 0


def test_the_resubmit_action_sends_failed_orders_again(qcluster, make_fake_provider, staff_client):
    fake = make_fake_provider()
    batch = make_batch(state=Batch.State.DONE)
    failed = [
        make_order(batch, status=Order.Status.FAILED, imei=imei, last_error="HTTP 502")
        for imei in ("353370080089451", "353370080089469")
    ]
    qcluster(fake)

    response = staff_client.post(
        reverse("admin:orders_order_changelist"),
        {"action": "resubmit_failed", "_selected_action": [o.pk for o in failed], "post": "yes"},
    )

    assert response.status_code == 302
    wait_for(none_open, 60, "the re-submitted orders complete")
    assert sorted(o["imei"] for o in fake.orders()) == sorted(o.imei for o in failed)
    assert set(batch.orders.values_list("status", flat=True)) == {Order.Status.COMPLETED}
