"""Clocks that restart: a re-submitted order's age counts from the
re-submit (no false "orders stuck" alert); a batch's elapsed time leaves its pauses out, and
within 15 s of a resume its ETA is within 35 % of the time really left."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from orders.models import Batch, Order, OrderEvent
from portal.admin.batch_page import progress_display
from portal.admin.stats import batch_progress
from submissions import alerts, services
from tests.fixtures.factories import make_batch, make_order, make_service

S = Order.Status
pytestmark = pytest.mark.django_db


def test_re_submitted_old_failures_raise_no_stuck_alert(settings, staff_user):
    settings.ALERT_EMAILS = ["ops@example.com"]
    service = make_service(delivery_time="Instant-5 Minutes")
    batch = make_batch(service=service, state=Batch.State.DONE, orders=0)
    week_ago = timezone.now() - timedelta(days=7)
    for n in range(3):
        make_order(batch, S.FAILED, imei=f"35000000000000{n}", created_at=week_ago)

    assert services.resubmit_failed(batch.orders.all(), staff_user) == 3

    assert alerts.evaluate()["stuck_orders"] is False
    assert not [m for m in mail.outbox if "stuck" in m.subject]


def test_a_re_submitted_order_is_stuck_once_its_new_try_is_too_old(staff_user):
    service = make_service(delivery_time="Instant-5 Minutes")
    order = make_order(make_batch(service=service, state=Batch.State.DONE), S.FAILED)
    Order.objects.filter(pk=order.pk).update(created_at=timezone.now() - timedelta(days=7))
    services.resubmit_failed(Order.objects.all(), staff_user)

    Order.objects.update(resubmitted_at=timezone.now() - timedelta(minutes=11))

    assert alerts.evaluate()["stuck_orders"] is True


def sent(batch, orders, first, every):
    """One placeorder call event per order, `every` apart from `first`."""
    for n, order in enumerate(orders):
        at = first + n * every
        Order.objects.filter(pk=order.pk).update(status=S.PENDING, submitted_at=at)
        OrderEvent.objects.create(
            order=order, batch=batch, from_status=S.SUBMITTING, to_status=S.PENDING,
            latency_ms=1000, at=at,
        )  # fmt: skip


def test_elapsed_time_leaves_the_pause_out_and_the_eta_restarts_at_resume(staff_user):
    """2 orders a second for 60 s, paused 2 minutes, then 12 s of sending again: 1,000 orders,
    144 sent, 856 left, so about 428 s at 2 a second."""
    t0 = timezone.now() - timedelta(minutes=10)
    batch = make_batch(orders=1000, started_at=t0)
    orders = list(batch.orders.order_by("pk"))
    sent(batch, orders[:120], t0, timedelta(seconds=0.5))
    batch.pause("Paused by staff")
    Batch.objects.filter(pk=batch.pk).update(paused_at=t0 + timedelta(seconds=60))
    Batch.objects.filter(pk=batch.pk).update(state=Batch.State.PAUSED)
    batch.refresh_from_db()
    resumed = t0 + timedelta(seconds=180)
    with_clock(batch, resumed)
    sent(batch, orders[120:144], resumed, timedelta(seconds=0.5))
    now = resumed + timedelta(seconds=12)

    progress = batch_progress(Batch.objects.get(pk=batch.pk), now=now)

    assert progress["running_seconds"] == 72
    assert progress_display(progress)["when"] == "running for 1 min 12 s"
    assert abs(progress["eta_send_seconds"] - 428) <= 0.35 * 428


def with_clock(batch, moment):
    """Resume as if at `moment`: the pause began at paused_at, the resume is now `moment`."""
    batch.resume()
    paused_at = moment - timedelta(seconds=120)
    Batch.objects.filter(pk=batch.pk).update(
        resumed_at=moment, paused_seconds=(moment - paused_at).total_seconds()
    )


def test_a_re_submit_keeps_the_batchs_priority(staff_user):
    """Its pace setting (priority) survives; the re-submit runs the batch
    again, it does not make a new one."""
    batch = make_batch(state=Batch.State.DONE, orders=0, priority=Batch.Priority.HIGH)
    make_order(batch, S.FAILED)

    services.resubmit_failed(batch.orders.all(), staff_user)

    batch.refresh_from_db()
    assert (batch.state, batch.priority) == (Batch.State.RUNNING, Batch.Priority.HIGH)
