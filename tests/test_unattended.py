"""Unattended operation, in process: the breaker, account-wide refusals and reconciliation.

The same behaviours run end to end against a real qcluster in tests/test_unattended_cluster.py.
"""

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from orders.models import Batch, Order, OrderEvent
from submissions.driver import breaker, reconcile, shutdown
from submissions.driver.clock import SystemClock
from submissions.driver.outcomes import OUTAGE_NOTE
from submissions.models import Breaker
from submissions.provider import GsmFusionClient
from tests.fixtures.driver import ScriptedClient, error, run
from tests.fixtures.factories import claim, make_batch, make_service

Status = Order.Status
HTTP_502 = "HTTP 502: try again later"
SECOND = timedelta(seconds=1)


@pytest.fixture
def enqueued(enqueued, settings):
    """One call at a time and a breaker that opens after three failures."""
    settings.SUBMIT_CONCURRENCY = 1
    settings.BREAKER_THRESHOLD = 3
    return enqueued


def scripted(batch, answer, times=5):
    return ScriptedClient({o.imei: [answer] * times for o in batch.orders.all()})


def open_breaker(probe_in_seconds, probe_seconds=1):
    Breaker.get()
    Breaker.row().update(
        opened_at=timezone.now() - timedelta(minutes=1),
        next_probe_at=timezone.now() + timedelta(seconds=probe_in_seconds),
        probe_seconds=probe_seconds,
        reason=HTTP_502,
    )


# -- the circuit breaker ---------------------------------------------------------------------------


def test_outage_failures_open_the_breaker_and_stop_sending_without_spending_attempts(db, enqueued):
    batch = make_batch(orders=6)
    client = scripted(batch, error("transient", HTTP_502, status_code=502))

    run(client, seconds=0.6)

    assert sum(client.calls.values()) == 3  # the third failure in a row opened it
    row = Breaker.get()
    assert (row.opened_at is not None, row.reason, row.probe_seconds) == (True, HTTP_502, 5)
    orders = batch.orders.order_by("id")
    assert list(orders.values_list("status", flat=True)) == [Status.QUEUED] * 6
    assert sorted(orders.values_list("attempts", flat=True)) == [0, 0, 0, 0, 1, 1]
    released = orders.get(last_error=OUTAGE_NOTE.format(HTTP_502))
    assert released.attempts == 0


def test_a_failed_probe_doubles_the_wait_and_sends_nothing_else(db, enqueued):
    batch = make_batch(orders=4)
    open_breaker(probe_in_seconds=0, probe_seconds=2)
    client = scripted(batch, error("transient", "Could not connect: refused"))

    run(client, seconds=0.5)

    assert sum(client.calls.values()) == 1
    row = Breaker.get()
    assert (row.probes, row.probe_seconds, row.reason) == (1, 4, "Could not connect: refused")
    assert not batch.orders.exclude(attempts=0).exists()  # the probe spent no attempt


def test_the_wait_between_probes_is_capped(db, enqueued, settings):
    settings.BREAKER_MAX_PROBE_SECONDS = 3
    batch = make_batch(orders=2)
    open_breaker(probe_in_seconds=0, probe_seconds=2)

    run(scripted(batch, error("transient", HTTP_502, status_code=502)), seconds=0.3)

    assert Breaker.get().probe_seconds == 3


def test_a_probe_that_is_placed_closes_the_breaker_and_every_order_is_sent(db, enqueued):
    batch = make_batch(orders=5, state=Batch.State.QUEUED)
    open_breaker(probe_in_seconds=0)
    client = ScriptedClient()

    run(client, seconds=1.0)

    row = Breaker.get()
    assert (row.opened_at, row.closed_at is not None) == (None, True)
    assert set(batch.orders.values_list("status", flat=True)) == {Status.PENDING}
    assert not breaker.state().open


def test_nothing_is_sent_before_the_next_probe_is_due(db, enqueued):
    batch = make_batch(orders=3)
    open_breaker(probe_in_seconds=30)
    client = ScriptedClient()

    run(client, seconds=0.3)

    assert sum(client.calls.values()) == 0
    assert set(batch.orders.values_list("status", flat=True)) == {Status.QUEUED}


def test_the_breaker_state_says_since_when_the_next_try_and_how_many_wait(db):
    make_batch(orders=3)
    make_batch(orders=2, state=Batch.State.PAUSED)  # not waiting for the provider
    open_breaker(probe_in_seconds=20)
    now = timezone.now()
    since = timezone.localtime(Breaker.get().opened_at).strftime("%H:%M")

    text = breaker.state().describe(now)

    assert text == (
        f"Provider unreachable since {since} - next try in 20 s - 3 orders waiting ({HTTP_502})"
    )
    assert breaker.state().waiting == 3


def test_a_closed_breaker_describes_nothing(db):
    assert breaker.state().describe() == ""


@pytest.mark.parametrize(
    ("kind", "status_code", "raw", "outage"),
    [
        ("transient", 429, "", True),
        ("transient", None, "", True),
        ("unknown_outcome", 502, "<html>", True),
        ("unknown_outcome", None, "", True),  # read timeout, reset: no answer at all
        ("unknown_outcome", 200, "<resu", False),  # an unreadable answer: one call's problem
        ("duplicate", None, "", False),
        ("permanent", None, "", False),
    ],
)
def test_it_counts_as_an_outage_only_what_says_the_provider_is_unreachable(
    kind, status_code, raw, outage
):
    from submissions.provider import ProviderError

    assert breaker.is_outage(ProviderError(kind, "x", raw, status_code)) is outage


# -- account-wide refusals -------------------------------------------------------------------------


def test_a_refusal_that_speaks_of_funds_pauses_every_live_batch_at_once(db, enqueued):
    batch = make_batch(orders=4, state=Batch.State.QUEUED)
    other = make_batch(orders=1)
    text = "Your account does not have enough funds to place this order."
    client = scripted(batch, error("permanent", text))

    run(client, seconds=0.5)

    assert sum(client.calls.values()) == 1
    note = (
        f"The provider refused our orders: “{text}”. Nothing was charged for them; they are "
        "queued again. Fix the account (top up the balance, enable the service), then resume."
    )
    assert set(Batch.objects.values_list("state", "note")) == {(Batch.State.PAUSED, note)}
    assert Order.objects.filter(status=Status.QUEUED, attempts=0).count() == 5
    assert other.orders.get().last_error == ""


def test_the_same_unseen_refusal_for_three_orders_in_a_row_pauses_and_fails_none(db, enqueued):
    batch = make_batch(orders=6)
    text = "Service is disabled for this user"
    client = scripted(batch, error("permanent", text))

    run(client, seconds=0.5)

    assert sum(client.calls.values()) == 3
    batch.refresh_from_db()
    assert (batch.state, f"“{text}”" in batch.note) == (Batch.State.PAUSED, True)
    assert set(batch.orders.values_list("status", "attempts")) == {(Status.QUEUED, 0)}
    refused = batch.orders.filter(last_error__startswith="Refused by the provider")
    assert refused.count() == 3


def test_refusals_with_different_texts_fail_only_their_own_orders(db, enqueued):
    batch = make_batch(orders=4)
    texts = ["Invalid IMEI!", "Blacklisted IMEI", "Invalid IMEI!", "Blacklisted IMEI"]
    client = ScriptedClient(
        {
            o.imei: [error("permanent", t)]
            for o, t in zip(batch.orders.order_by("id"), texts, strict=True)
        }
    )

    run(client, seconds=0.5)

    batch.refresh_from_db()
    assert batch.state == Batch.State.DONE
    assert set(batch.orders.values_list("status", flat=True)) == {Status.FAILED}


# -- reconciliation: unknown orders found again over their id windows ----------------------------


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


def fake_client_orders(make_fake_provider):
    import requests
    from django.conf import settings

    return requests.get(f"{settings.GSM_FUSION_BASE_URL}/_orders").json()


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
        f"Found again by reading provider ids {low + 1}–{low + reconcile.TAIL_IDS}"
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
        f"(upper end of its id window); ids {low + 1}–{low + reconcile.TAIL_IDS} hold none."
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


# -- graceful stop -------------------------------------------------------------------------------


def test_sigterm_during_a_run_stops_claiming_and_records_every_call_in_flight(
    db, enqueued, settings, monkeypatch
):
    monkeypatch.setattr(shutdown, "_requested", threading.Event())
    settings.SUBMIT_CONCURRENCY = 4
    batch = make_batch(orders=40)
    client = ScriptedClient(delay=0.5, clock=SystemClock())  # the signal comes in real time
    threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGTERM)).start()

    started = time.monotonic()
    with shutdown.stop_on_sigterm():
        summary = run(client, seconds=30)

    assert time.monotonic() - started < 3
    assert shutdown.requested()
    assert summary["placed"] == sum(client.calls.values()) == 4  # only the first claim
    counts = dict.fromkeys([Status.PENDING, Status.QUEUED], 0)
    for status in batch.orders.values_list("status", flat=True):
        counts[status] += 1
    assert counts == {Status.PENDING: 4, Status.QUEUED: 36}
    assert enqueued == ["drive"]  # the next cluster carries on
    assert signal.getsignal(signal.SIGTERM) is not shutdown._on_sigterm  # handler restored


PARENT = (
    "import subprocess, sys, time; "
    "c = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)']); "
    "print(c.pid, flush=True); c.wait(); time.sleep(30)"
)


def test_it_finds_a_processs_children_signals_them_and_sees_them_end():
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    try:
        child = int(parent.stdout.readline())

        assert shutdown.children_of(parent.pid) == [child]
        assert shutdown.still_running(child, 0)
        assert shutdown.signal_children(parent.pid) == 1
        assert not shutdown.still_running(child, 5)  # reaped by its parent
    finally:
        parent.kill()
        parent.wait()
