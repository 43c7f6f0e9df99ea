"""Unattended operation against a REAL qcluster and the fake provider over loopback sockets.

An outage opens the circuit breaker and heals without an operator; an unseen refusal text
pauses the batch with the provider's words; SIGTERM (to the whole group, as systemd does, or
to the main process only, as docker does) ends the cluster with every answer recorded; after
kill -9 the unknown orders are found again by reading their id windows. Kept short for CI:
small batches, fake latencies of tenths of a second, outages of a few seconds, breaker probes
every second or two.
"""

import os
import signal
import time
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from devtools.fakefusion.data import CATALOGUE
from orders.models import Batch, Order, OrderEvent
from submissions import services
from submissions.driver import breaker, ensure
from submissions.driver.reconcile import ABSENT, FOUND
from submissions.driver.shutdown import group_is_gone
from submissions.models import Breaker, Dispatcher
from tests.fixtures.cluster import wait_for
from tests.fixtures.factories import make_batch, make_service

pytestmark = pytest.mark.cluster

Status = Order.Status
FAST_BREAKER = {"BREAKER_FIRST_PROBE_SECONDS": 1, "BREAKER_MAX_PROBE_SECONDS": 2}
FUNDS = "Your account does not have enough funds to place this order."


def start_batch(orders):
    # The fake's own title: reconciliation matches the service by the title getimeis answers.
    service = make_service(title=CATALOGUE[0][1])
    batch = make_batch(service=service, orders=orders, state=Batch.State.QUEUED)
    services.batch_created(batch)  # autocommit: the driver task is enqueued at once
    return batch


def state_of(batch):
    return Batch.objects.get(pk=batch.pk).state


def statuses(batch):
    counts = {}
    for status in batch.orders.values_list("status", flat=True):
        counts[status] = counts.get(status, 0) + 1
    return counts


def placed_count(batch):
    return batch.orders.exclude(remote_id=None).count()


def placeorders(fake):
    return fake.stats()["calls"].get("placeorder", 0)


def wait_until_done(batch, timeout):
    wait_for(lambda: state_of(batch) == Batch.State.DONE, timeout, f"batch {batch.pk} is done")


def assert_every_created_order_is_recorded_once(fake, batch, placed_more_than_once=0):
    recorded = dict(batch.orders.exclude(remote_id=None).values_list("imei", "remote_id"))
    assert {o["imei"]: o["id"] for o in fake.orders()} == recorded
    assert fake.stats()["imeis_placed_more_than_once"] == placed_more_than_once


# -- the provider is down for a while ------------------------------------------------------------


GATEWAY_DOWN = "HTTP 502: a gateway lost the provider's answer; the order may exist"


def unresolved(batch):
    return batch.orders.filter(status__in=[*Order.OPEN_STATUSES, Status.UNKNOWN]).exists()


def test_a_502_outage_opens_the_breaker_and_reconciliation_sends_every_unknown_order_once(
    qcluster, make_fake_provider, staff_client
):
    # The outage: a gateway answers 502 to every placeorder and forwards nothing. The
    # client cannot tell that from a lost answer, so each order hit becomes unknown and is
    # sent again only once its whole id window was read and holds no order for it.
    fake = make_fake_provider(latency=0.05, complete_after=0.3, id_gap=3)
    qcluster(fake, SUBMIT_CONCURRENCY=8, SUBMIT_MAX_ATTEMPTS=2, RECONCILE_SECONDS=1, **FAST_BREAKER)
    batch = start_batch(150)
    wait_for(lambda: placed_count(batch) >= 20, 60, "the first orders are placed")

    fake.set_faults({"gateway_rate": 1.0})
    wait_for(lambda: breaker.state().open, 30, "the breaker opens")
    calls_when_open = placeorders(fake)
    time.sleep(5)
    during = breaker.state()
    unknown_during = batch.orders.filter(status=Status.UNKNOWN).count()
    page = staff_client.get(reverse("admin:orders_batch_change", args=[batch.pk]))
    probes = placeorders(fake) - calls_when_open
    fake.set_faults({"gateway_rate": 0.0})
    wait_for(lambda: not unresolved(batch), 90, "every order is completed, none unknown")
    wait_until_done(batch, 30)

    gateway_502s = fake.stats()["failed_502"]
    absent = OrderEvent.objects.filter(detail__startswith=ABSENT.split("{")[0])
    found = OrderEvent.objects.filter(detail__startswith=FOUND.split("{")[0])
    assert 1 <= probes <= 8  # one probe every 1-2 s, plus calls already in flight
    assert during.waiting > 0 and during.reason == GATEWAY_DOWN
    assert "Provider unreachable since" in page.content.decode()
    assert unknown_during > 0
    assert (absent.count(), found.count()) == (gateway_502s, 0)  # each 502 read, then sent
    assert statuses(batch) == {Status.COMPLETED: 150}
    assert not breaker.state().open
    assert_every_created_order_is_recorded_once(fake, batch)
    assert fake.stats()["imeis_sent_more_than_once"] == gateway_502s


def test_a_503_outage_opens_the_breaker_probes_rarely_and_every_order_completes_after_it(
    qcluster, make_fake_provider, staff_client
):
    fake = make_fake_provider(latency=0.05, complete_after=0.3)
    qcluster(fake, SUBMIT_CONCURRENCY=8, SUBMIT_MAX_ATTEMPTS=2, **FAST_BREAKER)
    batch = start_batch(150)
    wait_for(lambda: placed_count(batch) >= 20, 60, "the first orders are placed")

    fake.set_faults({"fail_rate": 1.0})  # every placeorder answers HTTP 503: nothing created
    wait_for(lambda: breaker.state().open, 30, "the breaker opens")
    calls_when_open = placeorders(fake)
    time.sleep(5)
    during = breaker.state()
    page = staff_client.get(reverse("admin:orders_batch_change", args=[batch.pk]))
    index = staff_client.get(reverse("admin:index"))
    probes = placeorders(fake) - calls_when_open
    fake.set_faults({"fail_rate": 0.0})
    wait_until_done(batch, 90)

    assert 1 <= probes <= 8  # one probe every 1-2 s, plus calls already in flight
    assert during.waiting > 0 and during.reason == "HTTP 503: try again later"
    assert "Provider unreachable since" in page.content.decode()
    assert f"{during.waiting:,} orders waiting" in index.content.decode()
    assert statuses(batch) == {Status.COMPLETED: 150}  # none failed, though max attempts is 2
    assert not breaker.state().open
    assert Breaker.get().closed_at is not None
    assert_every_created_order_is_recorded_once(fake, batch)
    assert fake.stats()["imeis_sent_more_than_once"] > 0  # the 503s were sent again, as they may


# -- the account runs dry ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text", [FUNDS, "Service 1739 is disabled for this account"], ids=["funds", "unseen"]
)
def test_an_account_wide_refusal_pauses_the_batch_with_its_words_and_resume_finishes_it(
    qcluster, make_fake_provider, staff_client, text
):
    fake = make_fake_provider(latency=0.1, complete_after=0.3, refuse_text=text, refuse_after=40)
    qcluster(fake, SUBMIT_CONCURRENCY=6)
    batch = start_batch(100)
    wait_for(lambda: state_of(batch) == Batch.State.PAUSED, 60, "the batch pauses")
    wait_for(lambda: not Order.objects.in_flight().exists(), 30, "in-flight calls recorded")

    batch.refresh_from_db()
    refused = fake.stats()["refused"]
    counts = statuses(batch)
    page = staff_client.get(reverse("admin:orders_batch_change", args=[batch.pk]))
    fake.set_faults({"refuse_text": None})  # topped up
    response = staff_client.post(
        reverse("admin:orders_batch_changelist"),
        {"action": "resume_batches", "_selected_action": [batch.pk]},
    )
    wait_until_done(batch, 60)

    assert f"“{text}”" in batch.note and "then resume" in batch.note
    assert f"“{text}”" in page.content.decode()
    assert refused <= 10
    assert Status.FAILED not in counts and Status.UNKNOWN not in counts
    assert response.status_code == 302
    assert statuses(batch) == {Status.COMPLETED: 100}
    assert_every_created_order_is_recorded_once(fake, batch, placed_more_than_once=refused)


# -- a deploy stops the cluster ----------------------------------------------------------------


@pytest.mark.parametrize("to_group", [True, False], ids=["systemd-group", "docker-main-only"])
def test_sigterm_ends_the_cluster_within_the_read_timeout_with_every_answer_recorded(
    qcluster, make_fake_provider, to_group
):
    fake = make_fake_provider(latency=1.0, jitter=0.2, complete_after=0.3)
    cluster = qcluster(fake, SUBMIT_CONCURRENCY=8, DRIVER_SECONDS=60)
    batch = start_batch(80)
    wait_for(lambda: placed_count(batch) >= 10, 60, "the first orders are placed")
    wait_for(lambda: Order.objects.in_flight().count() >= 4, 30, "calls in flight")

    started = time.monotonic()
    pid = cluster.process.pid
    if to_group:
        os.killpg(pid, signal.SIGTERM)
    else:
        os.kill(pid, signal.SIGTERM)
    cluster.process.wait(timeout=30)
    wait_for(lambda: group_is_gone(pid), 30, "every process of the cluster exits")
    took = time.monotonic() - started

    # Read timeout 3 s + connect 1 s + 5 s of drain margin, plus process start-up noise.
    assert took < 12, cluster.output()[-3000:]
    assert not batch.orders.filter(status__in=[Status.SUBMITTING, Status.UNKNOWN]).exists()
    assert "SIGTERM: the driver stops claiming" in cluster.output()
    Dispatcher.objects.update(driver_expires_at=timezone.now() - timedelta(seconds=1))

    qcluster(fake, SUBMIT_CONCURRENCY=8)
    ensure()
    wait_until_done(batch, 60)
    assert statuses(batch) == {Status.COMPLETED: 80}
    assert_every_created_order_is_recorded_once(fake, batch)


# -- kill -9, then the unknown orders are found again ---------------------------------------------


def test_after_kill_9_the_unknown_orders_are_found_in_their_id_windows(
    qcluster, make_fake_provider
):
    fake = make_fake_provider(latency=0.3, jitter=0.1, complete_after=0.5, id_gap=3)
    cluster = qcluster(fake, SUBMIT_CONCURRENCY=10, RECONCILE_SECONDS=1)
    batch = start_batch(200)
    wait_for(lambda: placed_count(batch) >= 30, 60, "the first orders are placed")

    cluster.kill()
    # The cluster is dead: let its leases lapse now instead of waiting for them.
    past = timezone.now() - timedelta(seconds=1)
    in_flight = Order.objects.in_flight().count()
    Order.objects.in_flight().update(lease_expires_at=past)
    Dispatcher.objects.update(driver_expires_at=past)
    qcluster(fake, SUBMIT_CONCURRENCY=10, RECONCILE_SECONDS=1)
    ensure()
    wait_for(
        lambda: (
            not Order.objects.filter(status__in=[*Order.OPEN_STATUSES, Status.UNKNOWN]).exists()
        ),
        90,
        "every order is completed, none unknown",
    )

    found = OrderEvent.objects.filter(detail__startswith=FOUND.split("{")[0])
    absent = OrderEvent.objects.filter(detail__startswith=ABSENT.split("{")[0])
    assert in_flight > 0
    assert found.count() + absent.count() == in_flight
    assert statuses(batch) == {Status.COMPLETED: 200}
    assert_every_created_order_is_recorded_once(fake, batch)
    # An absent order was sent again once, unless the kill came between its claim and its
    # call (then this is its first send); none reached the provider's order logic twice.
    assert fake.stats()["imeis_sent_more_than_once"] <= absent.count()
    assert fake.stats()["imeis_placed_more_than_once"] == 0
    ids = sorted(o["id"] for o in fake.orders())
    assert any(b - a > 1 for a, b in zip(ids, ids[1:], strict=False))  # ids were interleaved
