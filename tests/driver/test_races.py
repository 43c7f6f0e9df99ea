"""Exactly-once under interleavings: a duplicate after retries, a cancel or a
re-submit racing the driver, a first status other than Pending, a lock held by a stalled
claimer (docs/architecture.md, "Exactly-once invariants")."""

import threading
from collections import Counter
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.utils import timezone

import submissions.driver
from orders.models import Batch, Order
from submissions import services
from submissions.driver import claims, drive
from submissions.models import Dispatcher
from submissions.provider import GsmFusionClient, PlacedOrder
from tests.fixtures.cluster import wait_for
from tests.fixtures.driver import ScriptedClient, error, run
from tests.fixtures.factories import claim, make_batch, make_order
from tests.fixtures.provider_server import KEY, ScriptedServer

S = Order.Status
LEASE = timedelta(seconds=60)
NOT_CHARGED = "IMEI already exists at the provider: not sent again, not charged."
CHARGED_ONCE = (
    "Placed by an earlier send whose answer was lost: the provider holds this IMEI "
    "(charged once), but its order id and result are unknown."
)


def send(order):
    """Claim one order for a call, as the driver does; returns the claimed copy."""
    (claimed,) = claim([order.pk], LEASE)
    return claimed


# -- an answer after the request was sent is not "not created" -----------------------


@pytest.mark.parametrize("status", [502, 504])
def test_a_gateway_error_on_placeorder_makes_the_order_unknown_and_it_is_not_resent(
    db, enqueued, clock, status
):
    server = ScriptedServer([(status, "<html>Bad Gateway</html>")])
    threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True).start()
    order = make_order(batch=make_batch(state=Batch.State.QUEUED))

    try:
        drive(
            0.5, lambda: GsmFusionClient(server.base_url, "demo", KEY, read_timeout=2), clock=clock
        )
    finally:
        server.shutdown()
        server.server_close()

    order.refresh_from_db()
    assert (order.status, order.attempts) == (S.UNKNOWN, 1)
    assert order.last_error == (
        f"HTTP {status}: a gateway lost the provider's answer; the order may exist"
    )
    assert [request[2]["imei"] for request in server.requests] == [[order.imei]]


# -- a duplicate after retries ------------------------------------------------------


def test_a_duplicate_after_not_created_retries_is_not_counted_as_charged(db):
    order = make_order(batch=make_batch())
    send(order).mark_retry("HTTP 429: try again later", timedelta(0))
    send(order).mark_retry("Could not connect: refused", timedelta(0))
    claimed = send(order)

    claimed.mark_duplicate("<error>IMEI already exists!</error>")

    order.refresh_from_db()
    assert (order.status, order.attempts, order.cost, order.placed_without_id) == (
        S.DUPLICATE,
        3,
        Decimal("0"),
        False,
    )
    assert order.last_error == NOT_CHARGED


def test_a_duplicate_after_an_unknown_outcome_is_counted_as_charged_once(db, staff_user):
    order = make_order(batch=make_batch())
    send(order).mark_unknown("No answer in time")
    Order.objects.get(pk=order.pk).requeue(staff_user, include_unknown=True)
    send(order).mark_retry("HTTP 503: try again later", timedelta(0))
    claimed = send(order)

    claimed.mark_duplicate("<error>IMEI already exists!</error>")

    order.refresh_from_db()
    assert (order.status, order.cost, order.placed_without_id, order.last_error) == (
        S.DUPLICATE,
        Decimal("0.08"),
        True,
        CHARGED_ONCE,
    )


# -- cancel with a call in flight ---------------------------------------------------


@pytest.mark.parametrize(
    "answer",
    [
        error("transient", "HTTP 429: try again later", status_code=429),
        error("auth", "Invalid API Key!"),
    ],
    ids=["transient", "auth"],
)
def test_an_order_answered_not_created_after_its_batch_was_cancelled_ends_cancelled(
    db, enqueued, monkeypatch, staff_user, answer
):
    batch = make_batch(state=Batch.State.RUNNING)
    order = make_order(batch)
    claim = claims.claim

    def claim_then_cancel(*args):
        claimed = claim(*args)
        if claimed:  # the operator cancels while the call is in flight
            services.cancel_batch(Batch.objects.get(pk=batch.pk), staff_user)
        return claimed

    monkeypatch.setattr(claims, "claim", claim_then_cancel)
    client = ScriptedClient({order.imei: [answer]}, delay=0.05)

    run(client, seconds=0.5)

    order.refresh_from_db()
    assert order.status == S.CANCELLED
    assert order.events.last().detail == claims.STRANDED_NOTE
    assert Batch.objects.get(pk=batch.pk).state == Batch.State.CANCELLED
    assert client.calls == Counter({order.imei: 1})
    assert enqueued == []


# -- re-submit racing batch completion ----------------------------------------------


def test_a_resubmit_racing_batch_completion_leaves_the_batch_running(
    transactional_db, staff_user, monkeypatch
):
    """The re-submit has read the batch as running and not committed yet when the completing
    driver looks: the driver must not mark the batch done under it."""
    monkeypatch.setattr(submissions.driver, "enqueue", lambda: None)
    batch = make_batch(state=Batch.State.RUNNING)
    order = make_order(batch, status=S.FAILED)
    resubmitted, looking = threading.Event(), threading.Event()
    mark_done = Batch.mark_done

    def look_then_mark_done(batch):
        looking.set()
        return mark_done(batch)

    monkeypatch.setattr(Batch, "mark_done", look_then_mark_done)

    def resubmit():
        try:
            with transaction.atomic():
                services.resubmit_failed(Order.objects.filter(pk=order.pk), staff_user)
                resubmitted.set()
                looking.wait(10)  # the driver tries to complete the batch meanwhile
                wait_for(waits_for_our_lock, 10, "the driver waits for the batch", 0.005)
        finally:
            connection.close()

    def complete():
        try:
            resubmitted.wait(10)
            claims.finish_batches()
        finally:
            connection.close()

    threads = [threading.Thread(target=resubmit), threading.Thread(target=complete)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)

    assert looking.is_set()
    assert Order.objects.get(pk=order.pk).status == S.QUEUED
    assert Batch.objects.get(pk=batch.pk).state == Batch.State.RUNNING


def status_of(order):
    return Order.objects.values_list("status", flat=True).get(pk=order.pk)


def waits_for_our_lock():
    """Another session waits for a lock we hold (PostgreSQL says; on SQLite the driver's BEGIN
    IMMEDIATE, its first statement once it looks, waits for our write lock)."""
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_locks"
            " WHERE NOT granted AND pg_backend_pid() = ANY(pg_blocking_pids(pid)))"
        )
        return cursor.fetchone()[0]


# -- a first status other than Pending ---------------------------------------------


@pytest.mark.parametrize("first_status", ["Completed", "Rejected", "Queued", ""])
def test_a_first_status_other_than_pending_is_recorded_pending_and_polled(db, first_status):
    claimed = send(make_order(batch=make_batch()))
    raw = f"<result><imeis><id>15562210</id><status>{first_status}</status></imeis></result>"

    claimed.mark_placed(15562210, first_status, raw)

    order = Order.objects.get(pk=claimed.pk)
    assert (order.status, order.remote_id, order.finished_at, order.cost) == (
        S.PENDING,
        15562210,
        None,
        Decimal("0.08"),
    )
    assert order.next_poll_at is not None
    assert order.events.last().detail == raw


def test_an_in_process_first_status_is_kept_and_polled(db):
    claimed = send(make_order(batch=make_batch()))

    claimed.mark_placed(15562210, "In Process", "<raw/>")

    order = Order.objects.get(pk=claimed.pk)
    assert (order.status, order.finished_at, order.next_poll_at is not None) == (
        S.IN_PROCESS,
        None,
        True,
    )


class CompletedAtOnceClient(ScriptedClient):
    """Answers placeorder with a first status of Completed (never seen, but parsed)."""

    def place_order(self, imei, service_id):
        placed = super().place_order(imei, service_id)
        return PlacedOrder(placed.remote_id, imei, "Completed", placed.raw)


def test_an_order_placed_as_completed_gets_its_result_from_polling(db, enqueued, settings):
    settings.STATUS_POLL_SECONDS = 0.1
    order = make_order(batch=make_batch(state=Batch.State.QUEUED))
    client = CompletedAtOnceClient(remote_status="Completed", code="Carrier: T-Mobile")

    run(client, seconds=1.0)

    order.refresh_from_db()
    assert (order.status, order.carrier, order.result_code) == (
        S.COMPLETED,
        "T-Mobile",
        "Carrier: T-Mobile",
    )
    assert order.finished_at is not None
    assert [e.to_status for e in order.events.all()] == [S.SUBMITTING, S.PENDING, S.COMPLETED]


# -- a lock held by a stalled claimer ----------------------------------------------


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="lock_timeout is PostgreSQL's; SQLite waits 30 s"
)
def test_answers_are_recorded_while_a_stalled_claimer_holds_the_dispatcher_lock(
    transactional_db, enqueued, monkeypatch
):
    """A claimer stalled while holding the dispatcher row: our blocked statements give up
    after lock_timeout, and the answers in hand are recorded meanwhile, not after the lock."""
    monkeypatch.setitem(connection.settings_dict["OPTIONS"], "options", "-c lock_timeout=50")
    connection.close()
    batch = make_batch(orders=3, state=Batch.State.QUEUED)
    first = batch.orders.order_by("id").first()
    released = {}

    def stalled_claimer():
        try:
            wait_for(lambda: status_of(first) == S.SUBMITTING, 10, "the first call", 0.005)
            with transaction.atomic():
                Dispatcher.row().select_for_update().first()
                wait_for(lambda: status_of(first) == S.PENDING, 10, "its answer", 0.005)
                released["at"] = timezone.now()
        finally:
            connection.close()

    thread = threading.Thread(target=stalled_claimer)
    thread.start()
    client = ScriptedClient(delay=0.3)
    monkeypatch.setattr(submissions.driver.loop, "DATABASE_RETRY_SECONDS", 0.1)

    summary = run(client, seconds=5)
    thread.join(10)

    first.refresh_from_db()
    assert first.status == S.PENDING
    assert first.submitted_at < released["at"]  # recorded while the lock was still held
    assert summary["placed"] == 3  # the claims failed on the lock were retried later
    assert set(batch.orders.values_list("status", flat=True)) == {S.PENDING}
