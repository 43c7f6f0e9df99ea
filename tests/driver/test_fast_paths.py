"""The fast paths (claim-ahead, grouped recording, reconciliation proofs) pay once.

Each test reproduces one finding of the review (it failed on the engine before the fix) and
asserts what the provider saw (the scripted client's calls) and what the database holds.
"""

import configparser
from concurrent.futures import ThreadPoolExecutor, wait
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.db import OperationalError
from django.utils import timezone

import submissions.driver
from orders.models import Batch, Order, OrderEvent
from portal.admin.dashboard import spend_totals
from submissions import controls
from submissions.driver import Driver, ahead, claims, lease, reconcile, refusals, shutdown
from submissions.models import Breaker
from submissions.provider.answers import RemoteOrder
from tests.fixtures.driver import (
    ScriptedClient,
    answered,
    commit_then_drop,
    error,
    fail_first_commit,
    failed,
    new_driver,
    run,
)
from tests.fixtures.factories import claim, make_batch, make_order, valid_imei

LEASE = timedelta(minutes=1)
Status = Order.Status
DISABLED = "Service is disabled for this user"
NOT_FOR_THIS_SERVICE = "Invalid IMEI for this service"


@pytest.fixture
def driver(transactional_db, settings):
    """A driver at concurrency 20 (2 orders claimed ahead) whose calls last 1 s of a manual
    clock; real commits, so that a COMMIT can fail."""
    settings.SUBMIT_CONCURRENCY = 20
    client = ScriptedClient(delay=1)
    driver = Driver(lease.acquire(), 60, lambda: client, clock=client.clock)
    driver.provider = client
    yield driver
    client.clock.advance(5)  # the calls in flight answer: no thread outlives the test
    driver.close()


def calls(driver, orders):
    return [driver.provider.calls[order.imei] for order in orders]


def statuses(orders):
    return set(Order.objects.filter(pk__in=[o.pk for o in orders]).values_list("status", flat=True))


def calls_end(driver):
    """Every call in flight answers (1 s of the manual clock each): their slots are free."""
    for future in list(driver.sending.sends):
        for _ in range(500):
            if future.done():
                break
            driver.clock.advance(1)
            wait([future], timeout=0.01)
        future.result(timeout=0)


# -- 1. an ambiguous commit ---------------------------------------------------------------------


def test_orders_put_back_by_a_turn_whose_commit_outlived_the_connection_are_never_sent(
    driver, monkeypatch
):
    make_batch(orders=50)
    driver.refill()
    ahead = list(driver.sending.ahead)
    controls.change(None, sending_stopped=True)  # the next turn puts them back in the queue
    driver.clock.advance(1)
    commit_then_drop(monkeypatch)

    with pytest.raises(OperationalError):
        driver.refill()
    assert statuses(ahead) == {Status.QUEUED}  # the COMMIT went through
    controls.change(None, sending_stopped=False)
    claim([order.pk for order in ahead], LEASE)  # another driver takes them
    calls_end(driver)
    driver.sending.keep_alive()
    driver.sending.send_ready()
    calls_end(driver)  # any call started has reached the provider

    assert calls(driver, ahead) == [0, 0]


def test_orders_claimed_by_a_turn_whose_commit_outlived_the_connection_are_sent_once(
    driver, monkeypatch
):
    batch = make_batch(orders=22)
    commit_then_drop(monkeypatch)

    with pytest.raises(OperationalError):
        driver.refill()
    assert statuses(batch.orders.all()) == {Status.SUBMITTING}
    assert sum(driver.provider.calls.values()) == 0
    driver.sending.keep_alive()  # the database says they are ours
    driver.sending.send_ready()
    calls_end(driver)
    driver.sending.send_ready()
    calls_end(driver)

    assert calls(driver, batch.orders.all()) == [1] * 22


# -- 2. a pool that cannot start a thread -------------------------------------------------------


def test_a_pool_that_cannot_start_a_thread_sends_each_order_once(driver, monkeypatch):
    batch = make_batch(orders=5)
    submit, started = ThreadPoolExecutor.submit, []

    def fails_on_the_third(pool, *args, **kwargs):
        started.append(1)
        if len(started) == 3:
            raise RuntimeError("can't start new thread")
        return submit(pool, *args, **kwargs)

    monkeypatch.setattr(ThreadPoolExecutor, "submit", fails_on_the_third)
    with pytest.raises(RuntimeError):
        driver.refill()
    monkeypatch.setattr(ThreadPoolExecutor, "submit", submit)
    driver.sending.send_ready()
    calls_end(driver)
    driver.recording.wait_and_record(0.1)

    assert calls(driver, batch.orders.order_by("id")) == [1] * 5
    assert statuses(batch.orders.all()) == {Status.PENDING}


# -- 3. no call once the lease is not known to be live ------------------------------------------


def test_orders_claimed_ahead_wait_while_their_lease_is_not_known_live(driver, monkeypatch):
    make_batch(orders=50)
    driver.refill()
    ahead = list(driver.sending.ahead)
    extend = claims.extend_leases

    def database_down(*args):
        raise OperationalError("could not connect to server")

    monkeypatch.setattr(claims, "extend_leases", database_down)
    with pytest.raises(OperationalError):
        driver.sending.keep_alive()
    calls_end(driver)
    driver.clock.advance(8)  # no renewal for 9 s: a call started now could outlive the lease
    driver.sending.send_ready()
    calls_end(driver)
    assert calls(driver, ahead) == [0, 0]

    monkeypatch.setattr(claims, "extend_leases", extend)  # back: they are still ours
    driver.sending.keep_alive()
    driver.sending.send_ready()
    calls_end(driver)
    assert calls(driver, ahead) == [1, 1]


# -- 7. "stop all sending" stops the next call --------------------------------------------------


def test_stop_all_sending_keeps_the_orders_claimed_ahead_from_being_sent(driver):
    make_batch(orders=50)
    driver.refill()
    ahead = list(driver.sending.ahead)

    controls.change(None, sending_stopped=True)
    calls_end(driver)
    driver.sending.send_ready()
    calls_end(driver)

    assert calls(driver, ahead) == [0, 0]
    assert statuses(ahead) == {Status.QUEUED}


# -- 8. the hand-over puts the orders claimed ahead back first ----------------------------------


def test_a_hand_over_whose_broker_fails_still_puts_the_orders_claimed_ahead_back(
    driver, monkeypatch
):
    make_batch(orders=50)
    driver.refill()
    ahead = list(driver.sending.ahead)

    def broker_down():
        raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(submissions.driver, "enqueue", broker_down)
    driver.hand_over()

    assert statuses(ahead) == {Status.QUEUED}
    assert not lease.is_live()


# -- 4. and 5. reconciliation: the database's clock, evidence on both sides ---------------------


class ProviderBooks:
    """getimeis as the provider answers it: only the ids it holds for our account."""

    def __init__(self, held, leave_out=()):
        self.held, self.leave_out = held, set(leave_out)
        self.asked = []

    def order_statuses(self, remote_ids):
        self.asked += remote_ids
        return [
            RemoteOrder(i, self.held[i].imei, "Pending", "", self.held[i].service.title, "", "")
            for i in remote_ids
            if i in self.held and i not in self.leave_out
        ]

    def close(self):
        pass


def placed_order(batch, remote_id):
    (order,) = claim([make_order(batch=batch, imei=valid_imei(remote_id)).pk], LEASE)
    order.mark_placed(remote_id, "Pending", "")
    return order


def lost_order(batch):
    (order,) = claim([make_order(batch=batch, imei=valid_imei(1)).pk], LEASE)
    order.mark_unknown("No answer in time")
    return order


def shift(order, to_status, seconds):
    """Move the order's events into `to_status` by `seconds` (time passing between steps)."""
    events = OrderEvent.objects.filter(order=order, to_status=to_status)
    for event in events:
        events.filter(pk=event.pk).update(at=event.at + timedelta(seconds=seconds))


@pytest.fixture
def skewed(monkeypatch):
    """This host's clock runs `offset` away: every `timezone.now()` here, wherever it is read."""
    from django.utils import timezone as django_timezone

    real = django_timezone.datetime

    def skew(offset):
        class Skewed(real):
            @classmethod
            def now(cls, tz=None):
                return real.now(tz) + offset

        monkeypatch.setattr(django_timezone, "datetime", Skewed)

    return skew


def test_a_host_whose_clock_runs_ahead_cannot_make_an_empty_window_look_like_proof(db, skewed):
    batch = make_batch(state=Batch.State.RUNNING)
    first = placed_order(batch, 100)
    skewed(timedelta(minutes=1))
    earlier = placed_order(batch, 101)  # sent and placed before `lost`, on a host a minute ahead
    skewed(timedelta(0))
    lost = lost_order(batch)  # created at the provider as 102; its answer never came
    held = {100: first, 101: earlier, 102: lost}

    reconcile.run_inline(lambda: ProviderBooks(held))

    lost.refresh_from_db()
    assert (lost.status, lost.remote_id) == (Status.PENDING, 102)


@pytest.fixture
def window(db):
    """An unknown order between two of ours (ids 100 and 105), with one more of ours inside
    (103, sent at the same time); the provider never created the unknown one."""
    batch = make_batch(state=Batch.State.RUNNING)
    low = placed_order(batch, 100)
    shift(low, Status.PENDING, -60)
    lost, beside = lost_order(batch), placed_order(batch, 103)
    high = placed_order(batch, 105)
    shift(high, Status.SUBMITTING, 30)  # sent well after the lost call ended
    return lost, {100: low, 103: beside, 105: high}


@pytest.mark.parametrize(
    "leave_out",
    [[100, 103, 105], [103], [105]],
    ids=["empty answer", "one of ours inside missing", "upper end missing"],
)
def test_an_answer_that_leaves_out_our_own_orders_proves_nothing_absent(window, leave_out):
    lost, held = window

    assert reconcile.run_inline(lambda: ProviderBooks(held, leave_out)) == (0, 0)

    lost.refresh_from_db()
    assert lost.status == Status.UNKNOWN
    assert "left out orders of ours" in lost.events.last().detail


def test_a_complete_answer_bounded_by_our_own_orders_proves_the_order_absent(window):
    lost, held = window
    books = ProviderBooks(held)

    assert reconcile.run_inline(lambda: books) == (0, 1)

    lost.refresh_from_db()
    assert lost.status == Status.QUEUED
    assert {100, 105} <= set(books.asked)


# -- 6. and 9. refusals: the order's own, or the account's; one memory for every driver ---------


def test_three_imeis_refused_one_by_one_fail_alone_and_sending_goes_on(db, enqueued):
    batch = make_batch(orders=12)
    bad = list(batch.orders.order_by("id"))[::4]  # the first one sent among them
    refusal = error("permanent", NOT_FOR_THIS_SERVICE)
    client = ScriptedClient({o.imei: [refusal] for o in bad}, delay=1, errors_at_once=True)

    run(client, seconds=10)

    batch.refresh_from_db()
    assert batch.state == Batch.State.RUNNING  # never paused; the placed ones await results
    assert set(
        Order.objects.filter(pk__in=[o.pk for o in bad]).values_list("status", "last_error")
    ) == {(Status.FAILED, NOT_FOR_THIS_SERVICE)}
    assert batch.orders.filter(status=Status.PENDING).count() == 9
    assert sum(client.calls.values()) == 12


def test_orders_refused_again_after_a_resume_fail_alone_instead_of_pausing_again(db, enqueued):
    batch = make_batch(orders=3)
    for order in claim(list(batch.orders.values_list("id", flat=True)), LEASE):
        order.mark_failed(DISABLED)
    refusals.stop_sending(DISABLED)  # taken for account-wide once; an operator resumed
    batch.refresh_from_db()
    batch.resume()
    client = ScriptedClient({o.imei: [error("permanent", DISABLED)] for o in batch.orders.all()})

    run(client, seconds=1)

    batch.refresh_from_db()
    assert batch.state == Batch.State.DONE
    assert set(batch.orders.values_list("status", flat=True)) == {Status.FAILED}


def test_a_draining_driver_follows_the_account_wide_refusal_its_successor_declared(db, enqueued):
    batch = make_batch(orders=4)
    first, *others = batch.orders.order_by("id")
    (last_call,) = claim([first.pk], LEASE)  # the predecessor's call, still in flight
    successor = ScriptedClient({o.imei: [error("permanent", DISABLED)] for o in others})
    run(successor, seconds=1)
    assert Batch.objects.get().state == Batch.State.PAUSED

    new_driver().outcomes.record(last_call, 0.0, failed("permanent", DISABLED))

    last_call.refresh_from_db()
    assert (last_call.status, last_call.attempts) == (Status.QUEUED, 0)


def test_staff_can_fail_a_queued_or_unknown_order_alone(db, admin_client):
    batch = make_batch(orders=2)
    queued, unknown = batch.orders.order_by("id")
    (unknown,) = claim([unknown.pk], LEASE)
    unknown.mark_unknown("No answer in time")

    response = admin_client.post(
        "/admin/orders/order/",
        {"action": "fail_orders", "_selected_action": [queued.pk, unknown.pk]},
        follow=True,
    )

    assert response.status_code == 200
    assert statuses([queued, unknown]) == {Status.FAILED}
    assert "2 orders marked failed" in response.content.decode()


# -- 10. the same IMEI twice --------------------------------------------------------------------


def test_checking_an_imei_again_books_each_provider_order_once(db):
    batch = make_batch(state=Batch.State.RUNNING)
    first = placed_order(batch, 100)
    again = placed_order(batch, 101)
    Order.objects.filter(pk=again.pk).update(imei=first.imei)  # "check again": a new order

    assert first.mark_placed(100, "Pending", "") is False  # an answer recorded twice: once

    price = batch.service.price
    assert spend_totals(timezone.now())["today"] == f"{2 * price:.2f}"


# -- 11. smaller ones ---------------------------------------------------------------------------


@pytest.fixture
def sent(transactional_db):
    batch = make_batch(state=Batch.State.RUNNING)
    return sorted(claim([make_order(batch=batch).pk for _ in range(3)], LEASE), key=lambda o: o.pk)


def test_outage_answers_of_a_failed_group_count_once_toward_the_breaker(sent, monkeypatch):
    driver = new_driver()
    futures = answered(driver, sent, lambda order, n: failed("transient", "HTTP 503", 503))
    fail_first_commit(monkeypatch)

    with pytest.raises(OperationalError):
        driver.recording.record(futures)
    driver.recording.retry_held()
    driver.close()

    assert Breaker.row().values_list("opened_at", flat=True).first() is None  # 3 < 5


def test_the_deploy_units_wait_longer_than_a_driver_takes_to_stop():
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.read(Path(__file__).parents[2] / "deploy/systemd/portal-qcluster.service")

    timeout = int(unit["Service"]["TimeoutStopSec"])

    assert timeout >= shutdown.STOP_SECONDS + 10


def test_urgent_orders_go_before_the_others_claimed_ahead():
    held = ahead.ClaimedAhead(ahead.CallWindow(lease_seconds=120, call_seconds=110))
    normal = [SimpleNamespace(pk=pk, batch_priority="normal") for pk in (1, 2)]

    held.add(normal, leased_at=0)
    held.add([SimpleNamespace(pk=3, batch_priority="urgent")], leased_at=0)

    assert [order.pk for order in held] == [3, 1, 2]
