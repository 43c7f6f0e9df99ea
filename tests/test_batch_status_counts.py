"""The per-(batch, status) counters equal a COUNT of the orders after every kind of write."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.db.models import Count

from orders.models import Batch, BatchStatusCount, Order
from tests.fixtures.factories import claim, make_batch, make_order, polled

Status = Order.Status


def counted(batch):
    rows = batch.orders.order_by().values_list("status").annotate(n=Count("id"))
    return {status: n for status, n in rows}


def kept(batch):
    return {c.status: c.orders for c in BatchStatusCount.objects.filter(batch=batch) if c.orders}


@pytest.mark.django_db(transaction=True)
def test_counts_follow_bulk_inserts_claims_and_transitions():
    batch = make_batch(orders=5)
    assert kept(batch) == {Status.QUEUED: 5}
    claimed = claim(list(batch.orders.values_list("id", flat=True)[:3]), timedelta(60))
    claimed[0].mark_placed(12345678, "Pending", "<result/>")
    claimed[1].mark_unknown("No answer in time")
    claimed[2].mark_retry("HTTP 502", timedelta(seconds=2))
    assert kept(batch) == counted(batch) == {Status.QUEUED: 3, Status.PENDING: 1, Status.UNKNOWN: 1}


@pytest.mark.django_db(transaction=True)
def test_counts_follow_plain_updates_and_creates_across_batches():
    first, second = make_batch(orders=4), make_batch(orders=2)
    make_order(batch=second, status=Status.FAILED)
    first.orders.filter(pk__in=first.orders.values("pk")[:2]).update(status=Status.COMPLETED)
    second.orders.filter(status=Status.QUEUED).update(status=Status.CANCELLED)
    assert kept(first) == counted(first) == {Status.QUEUED: 2, Status.COMPLETED: 2}
    assert kept(second) == counted(second) == {Status.CANCELLED: 2, Status.FAILED: 1}


@pytest.mark.django_db(transaction=True)
def test_an_update_that_keeps_the_status_leaves_the_counts_alone():
    batch = make_batch(orders=3)
    batch.orders.update(last_error="x")
    assert kept(batch) == {Status.QUEUED: 3}


@pytest.mark.django_db(transaction=True)
def test_deleting_orders_or_their_batch_keeps_the_counts_right():
    batch, other = make_batch(orders=3), make_batch(orders=1)
    batch.orders.filter(pk=batch.orders.first().pk).delete()
    assert kept(batch) == {Status.QUEUED: 2}
    Batch.objects.filter(pk=other.pk).delete()
    assert not BatchStatusCount.objects.filter(batch_id=other.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_a_failed_transaction_leaves_no_count_behind():
    batch = make_batch(orders=2)
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            batch.orders.update(status=Status.FAILED)
            raise RuntimeError("rolled back")
    assert kept(batch) == {Status.QUEUED: 2}


@pytest.mark.django_db(transaction=True)
def test_cost_follows_placed_orders():
    batch = make_batch(orders=2)
    claimed = claim(list(batch.orders.values_list("id", flat=True)), timedelta(60))
    claimed[0].mark_placed(12345678, "Pending", "<result/>")
    claimed[1].mark_placed(12345679, "Pending", "<result/>")
    polled(claimed[1], "Completed", "Carrier: T-Mobile", "<result/>")
    costs = dict(BatchStatusCount.objects.filter(batch=batch).values_list("status", "cost"))
    assert costs[Status.PENDING] == costs[Status.COMPLETED] == Decimal("0.08")
    assert costs[Status.QUEUED] == costs[Status.SUBMITTING] == 0


@pytest.mark.cluster
def test_counts_stay_exact_through_a_real_cluster_with_faults_and_handovers(
    qcluster, make_fake_provider
):
    from submissions import services
    from tests.fixtures.cluster import wait_for

    fake = make_fake_provider(latency=0.1, jitter=0.05, complete_after=0.3, fail_rate=0.1)
    batches = [make_batch(orders=150, state=Batch.State.QUEUED) for _ in range(2)]
    qcluster(fake, SUBMIT_CONCURRENCY=10, DRIVER_SECONDS=5, SUBMIT_MAX_ATTEMPTS=2)
    for batch in batches:
        services.batch_created(batch)

    open_orders = Order.objects.filter(status__in=Order.OPEN_STATUSES)
    wait_for(lambda: not open_orders.exists(), 60, "every order is final")

    for batch in batches:
        assert kept(batch) == counted(batch)
        assert sum(counted(batch).values()) == 150
