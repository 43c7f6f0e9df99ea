"""Reconciliation: unknown orders found again over their id windows at the fake provider."""

from datetime import timedelta

import pytest
from django.utils import timezone

from orders.models import Batch, Order, OrderEvent
from submissions.driver import id_window, reconcile
from submissions.provider import GsmFusionClient
from tests.fixtures.factories import claim, make_batch, make_service

Status = Order.Status


SECOND = timedelta(seconds=1)


@pytest.fixture
def fake_client(make_fake_provider, settings):
    make_fake_provider(id_gap=4)
    client = GsmFusionClient.from_settings()
    yield client
    client.close()


def send(order, client, at, record=True):
    """Claim and send one order at `at`: placed and recorded, or its answer lost (unknown)."""
    (claimed,) = claim([order.pk], timedelta(minutes=1))
    OrderEvent.objects.filter(order=order, to_status=Status.SUBMITTING).update(at=at)
    placed = client.place_order(order.imei, order.service_id)
    if record:
        claimed.mark_placed(placed.remote_id, placed.status, placed.raw)
        Order.objects.filter(pk=order.pk).update(submitted_at=at + timedelta(seconds=1))
        placed_event = OrderEvent.objects.filter(order=order, to_status=Status.PENDING)
        placed_event.update(at=at + timedelta(seconds=1))
    return claimed


def lose(order, at):
    order.mark_unknown("No answer in time")
    OrderEvent.objects.filter(order=order, to_status=Status.UNKNOWN).update(at=at)


@pytest.fixture
def three_orders(db):
    service = make_service(
        title="Apple iPhone IMEI Carrier + Simlock + FMI + WW + Activation Etc 🔥Hot Exclusive "
        "Checker🔥"
    )
    batch = make_batch(service=service, orders=3, state=Batch.State.DONE)
    return list(batch.orders.order_by("id"))


def fake_client_orders(make_fake_provider):
    import requests
    from django.conf import settings

    return requests.get(f"{settings.GSM_FUSION_BASE_URL}/_orders").json()


def test_an_unknown_order_found_in_its_id_window_becomes_pending_with_its_id(
    fake_client, three_orders, make_fake_provider
):
    before, lost, after = three_orders
    t0 = timezone.now() - timedelta(minutes=5)
    send(before, fake_client, t0)
    lose(
        send(lost, fake_client, t0 + timedelta(seconds=2), record=False), t0 + timedelta(seconds=3)
    )
    send(after, fake_client, t0 + timedelta(seconds=20))

    found, requeued = reconcile.run_inline(GsmFusionClient.from_settings)

    lost.refresh_from_db()
    held = {o["imei"]: o["id"] for o in fake_client_orders(make_fake_provider)}
    assert (found, requeued) == (1, 0)
    assert (lost.status, lost.remote_id) == (Status.PENDING, held[lost.imei])
    event = lost.events.last()
    low, high = held[before.imei] + 1, held[after.imei] - 1
    assert event.detail.startswith(f"Found again by reading provider ids {low}–{high}")
    assert Batch.objects.get().state == Batch.State.RUNNING  # its result still has to come


def test_an_unknown_order_absent_from_its_whole_window_is_queued_again(fake_client, three_orders):
    before, lost, after = three_orders
    t0 = timezone.now() - timedelta(minutes=5)
    send(before, fake_client, t0)
    (claimed,) = claim([lost.pk], timedelta(minutes=1))  # killed before the request
    OrderEvent.objects.filter(order=lost, to_status=Status.SUBMITTING).update(at=t0 + SECOND * 2)
    lose(claimed, t0 + timedelta(seconds=3))
    send(after, fake_client, t0 + timedelta(seconds=20))

    found, requeued = reconcile.run_inline(GsmFusionClient.from_settings)

    lost.refresh_from_db()
    assert (found, requeued) == (0, 1)
    assert (lost.status, lost.attempts, lost.remote_id) == (Status.QUEUED, 0, None)
    assert lost.last_error.startswith("Never created: provider ids ")


def test_the_last_unknown_order_created_at_the_provider_is_found_above_its_lower_end(
    fake_client, three_orders, make_fake_provider
):
    before, lost, _ = three_orders  # nothing is sent after it: its window has no upper end
    t0 = timezone.now() - timedelta(minutes=5)
    send(before, fake_client, t0)
    lose(
        send(lost, fake_client, t0 + timedelta(seconds=2), record=False), t0 + timedelta(seconds=3)
    )

    found, requeued = reconcile.run_inline(GsmFusionClient.from_settings)

    lost.refresh_from_db()
    held = {o["imei"]: o["id"] for o in fake_client_orders(make_fake_provider)}
    low = held[before.imei]
    assert (found, requeued) == (1, 0)
    assert (lost.status, lost.remote_id) == (Status.PENDING, held[lost.imei])
    assert lost.events.last().detail.startswith(
        f"Found again by reading provider ids {low + 1}–{low + id_window.TAIL_IDS}"
    )


def test_the_last_unknown_order_never_created_stays_unknown_until_a_later_order_is_placed(
    fake_client, three_orders, make_fake_provider
):
    before, lost, after = three_orders
    t0 = timezone.now() - timedelta(minutes=5)
    send(before, fake_client, t0)
    (claimed,) = claim([lost.pk], timedelta(minutes=1))  # a gateway 502: never created
    OrderEvent.objects.filter(order=lost, to_status=Status.SUBMITTING).update(at=t0 + SECOND * 2)
    lose(claimed, t0 + timedelta(seconds=3))

    first = reconcile.run_inline(GsmFusionClient.from_settings)
    reconcile.run_inline(GsmFusionClient.from_settings)  # the note is written once
    lost.refresh_from_db()
    notes = lost.events.filter(from_status=Status.UNKNOWN, to_status=Status.UNKNOWN)
    status_before_a_later_order = lost.status
    send(after, fake_client, t0 + timedelta(seconds=20))  # the next order of the account
    second = reconcile.run_inline(GsmFusionClient.from_settings)

    lost.refresh_from_db()
    low = {o["imei"]: o["id"] for o in fake_client_orders(make_fake_provider)}[before.imei]
    assert (first, status_before_a_later_order) == ((0, 0), Status.UNKNOWN)
    assert list(notes.values_list("detail", flat=True)) == [
        "Still unknown after looking for it again: no order sent after it has been placed yet "
        f"(upper end of its id window); ids {low + 1}–{low + id_window.TAIL_IDS} hold none."
    ]
    assert (second, lost.status) == ((0, 1), Status.QUEUED)


def test_a_window_too_wide_to_read_is_left_unknown_and_says_so(fake_client, three_orders, settings):
    settings.RECONCILE_MAX_IDS = 100
    before, lost, after = three_orders
    t0 = timezone.now() - timedelta(minutes=5)
    send(before, fake_client, t0)
    lose(
        send(lost, fake_client, t0 + timedelta(seconds=2), record=False), t0 + timedelta(seconds=3)
    )
    send(after, fake_client, t0 + timedelta(seconds=20))
    Order.objects.filter(pk=after.pk).update(remote_id=99_999_999)

    assert reconcile.run_inline(GsmFusionClient.from_settings) == (0, 0)

    lost.refresh_from_db()
    assert lost.status == Status.UNKNOWN
    assert "is wider than RECONCILE_MAX_IDS (100)" in lost.events.last().detail
