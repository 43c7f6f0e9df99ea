"""The driver with an in-process fake client: outcomes, limits, leases and the crash sweep."""

from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from orders.models import Batch, Order
from submissions.driver import Driver, claims, ensure, lease, limits
from submissions.driver.calls import Call
from submissions.models import Dispatcher
from submissions.provider import PlacedOrder
from tests.fixtures.driver import ScriptedClient, error, run
from tests.fixtures.factories import claim, make_batch, make_order

COMPLETED_CODE = "Model: iPhone 11 Purple 64GB<br>Carrier: T-Mobile<br>SimLock: Locked"


@pytest.fixture
def order(db):
    return make_order(batch=make_batch(state=Batch.State.QUEUED))


def test_it_places_queued_orders_and_starts_then_finishes_the_batch(db, enqueued, settings):
    settings.STATUS_POLL_SECONDS = 0.1
    batch = make_batch(orders=3, state=Batch.State.QUEUED)
    client = ScriptedClient(remote_status="Completed", code=COMPLETED_CODE)

    summary = run(client)

    assert summary["placed"] == 3
    assert set(Order.objects.values_list("status", flat=True)) == {Order.Status.COMPLETED}
    assert Order.objects.filter(remote_id__isnull=True).count() == 0
    assert Order.objects.filter(carrier="T-Mobile", cost="0.08").count() == 3
    batch.refresh_from_db()
    assert (batch.state, batch.started_at is not None) == (Batch.State.DONE, True)
    assert client.calls == Counter({o.imei: 1 for o in batch.orders.all()})
    assert enqueued == []


def test_a_transient_error_requeues_the_order_with_backoff(order, enqueued):
    client = ScriptedClient({order.imei: [error("transient", "HTTP 502: try again later")]})

    run(client, seconds=0.5)

    order.refresh_from_db()
    assert (order.status, order.attempts) == (Order.Status.QUEUED, 1)
    assert order.last_error == "HTTP 502: try again later"
    wait = (order.next_attempt_at - timezone.now()).total_seconds()
    assert 0.5 < wait <= 3  # 2**1 s plus up to 1 s of jitter, minus the time the run took
    assert enqueued == ["drive"]  # the retry is still due: a successor keeps the chain


def test_a_transient_error_on_the_last_attempt_fails_the_order(order, enqueued, settings):
    settings.SUBMIT_MAX_ATTEMPTS = 2
    Order.objects.filter(pk=order.pk).update(attempts=1)
    client = ScriptedClient({order.imei: [error("transient", "HTTP 503: try again later")]})

    run(client, seconds=0.5)

    order.refresh_from_db()
    assert (order.status, order.attempts) == (Order.Status.FAILED, 2)
    assert order.last_error == "Gave up after 2 attempts: HTTP 503: try again later"
    assert enqueued == []


def test_an_unknown_outcome_is_never_sent_again(order, enqueued):
    client = ScriptedClient({order.imei: [error("unknown_outcome", "No answer in time")]})

    run(client, seconds=0.3)
    run(client, seconds=0.3)

    order.refresh_from_db()
    assert (order.status, order.last_error) == (Order.Status.UNKNOWN, "No answer in time")
    assert client.calls[order.imei] == 1


def test_an_unexpected_exception_makes_the_order_unknown(order, enqueued):
    client = ScriptedClient({order.imei: [RuntimeError("boom")]})

    run(client, seconds=0.3)

    order.refresh_from_db()
    assert order.status == Order.Status.UNKNOWN
    assert order.last_error == (
        "Unexpected error during the call; it may have been placed: RuntimeError('boom')"
    )


def test_a_duplicate_answer_marks_a_first_send_duplicate_and_uncharged(order, enqueued):
    client = ScriptedClient({order.imei: [error("duplicate", "IMEI already exists!")]})

    run(client, seconds=0.3)

    order.refresh_from_db()
    assert (order.status, order.cost, order.placed_without_id) == (
        Order.Status.DUPLICATE,
        0,
        False,
    )
    # The expected refusal is no provider fault: the dashboard's "last error" stays clear.
    assert Dispatcher.objects.get().last_error == ""


def test_a_permanent_error_fails_the_order_with_the_provider_text(order, enqueued):
    client = ScriptedClient({order.imei: [error("permanent", "Invalid IMEI!")]})

    run(client, seconds=0.3)

    order.refresh_from_db()
    assert (order.status, order.last_error) == (Order.Status.FAILED, "Invalid IMEI!")


def test_an_order_the_client_refuses_to_send_fails_instead_of_going_unknown(
    db, enqueued, fake_provider, provider_client
):
    order = make_order(batch=make_batch(state=Batch.State.QUEUED), imei="35547349605456")

    run(provider_client, seconds=0.3)

    order.refresh_from_db()
    assert (order.status, order.cost, order.last_error) == (
        Order.Status.FAILED,
        0,
        "Not sent: placeorder takes exactly one 15-digit IMEI per call, not '35547349605456' "
        "(the provider silently orders only the last IMEI of a comma list)",
    )
    assert fake_provider.stats()["calls"] == {}


def test_refused_credentials_pause_live_batches_and_release_the_order(order, enqueued):
    other = make_batch(orders=2, state=Batch.State.RUNNING)
    client = ScriptedClient(
        {o.imei: [error("auth", "Invalid API Key!")] for o in Order.objects.all()}
    )

    run(client, seconds=0.5)

    assert set(Batch.objects.values_list("state", flat=True)) == {Batch.State.PAUSED}
    other.refresh_from_db()
    assert other.note == (
        "Provider rejected our credentials: Invalid API Key! — fix GSM_FUSION_* and resume."
    )
    order.refresh_from_db()
    assert (order.status, order.attempts) == (Order.Status.QUEUED, 0)
    assert order.last_error == "Not sent: Invalid API Key!"
    assert Dispatcher.get().last_error == "auth: Invalid API Key!"
    assert enqueued == []  # paused batches leave no work


def test_a_429_halves_the_in_flight_limit_and_stores_it(db, enqueued, settings):
    settings.SUBMIT_CONCURRENCY = 8
    settings.BREAKER_THRESHOLD = 20  # eight 429s: the limit's business, not an outage yet
    batch = make_batch(orders=8)
    throttled = error("transient", "HTTP 429: try again later", status_code=429)
    client = ScriptedClient({o.imei: [throttled] for o in batch.orders.all()}, delay=0.05)

    run(client, seconds=0.5)

    dispatcher = Dispatcher.get()
    assert dispatcher.effective_concurrency == 4  # halved once: the other 429s were in flight
    assert dispatcher.last_throttled_at is not None
    assert batch.orders.filter(status=Order.Status.QUEUED, attempts=1).count() == 8


def test_the_in_flight_cap_is_never_exceeded(db, enqueued, settings):
    settings.SUBMIT_CONCURRENCY = 5
    make_batch(orders=40)
    client = ScriptedClient(delay=0.03)

    summary = run(client, seconds=1.5)

    assert (summary["placed"], client.peak) == (40, 5)


def test_orders_in_flight_elsewhere_count_against_the_cap(db, enqueued):
    batch = make_batch(orders=5)
    lease_time = timedelta(minutes=1)
    claim(list(batch.orders.values_list("id", flat=True)[:2]), lease_time)

    claimed = claims.claim(limit=3, wanted=3, lease=lease_time)

    assert len(claimed) == 1
    assert Order.objects.in_flight().count() == 3


def test_an_expired_lease_moves_a_submitting_order_to_unknown_and_it_is_not_resent(order, enqueued):
    claim([order.pk], timedelta(seconds=-1))  # claimed by a worker that was killed
    client = ScriptedClient()

    run(client, seconds=0.3)

    order.refresh_from_db()
    assert order.status == Order.Status.UNKNOWN
    assert order.last_error == claims.SWEPT_NOTE
    assert client.calls == Counter()


def test_an_answer_arriving_after_the_sweep_still_records_the_charged_order(order, enqueued):
    (claimed,) = claim([order.pk], timedelta(seconds=-1))
    claims.sweep_expired()  # the call outlived its lease
    driver = Driver(lease.acquire(), 1, ScriptedClient)
    placed = PlacedOrder(15562210, order.imei, "Pending", "<result>15562210</result>")

    driver.outcomes.record(claimed, 0.0, Call(placed=placed, latency=1.0))
    driver.close()

    order.refresh_from_db()
    assert (order.status, order.remote_id, order.cost) == (
        Order.Status.PENDING,
        15562210,
        order.service.price,
    )
    assert driver.outcomes.summary["placed"] == 1


def test_an_answer_for_an_order_re_submitted_meanwhile_logs_its_id(order, enqueued, caplog):
    (claimed,) = claim([order.pk], timedelta(seconds=-1))
    claims.sweep_expired()
    Order.objects.get(pk=order.pk).requeue(include_unknown=True)
    driver = Driver(lease.acquire(), 1, ScriptedClient)
    placed = PlacedOrder(15562210, order.imei, "Pending", "<result>15562210</result>")

    driver.outcomes.record(claimed, 0.0, Call(placed=placed, latency=1.0))
    driver.close()

    order.refresh_from_db()
    assert (order.status, order.remote_id) == (Order.Status.QUEUED, None)
    message = (
        f"Order {order.pk} ({order.imei}) was placed as 15562210 after it had become queued; "
        "record that id by hand"
    )
    assert (driver.outcomes.last_error, driver.outcomes.summary["placed"]) == (message, 0)
    assert f"{message}: <result>15562210</result>" in caplog.text


def test_a_driver_keeps_the_leases_of_its_own_calls_so_the_sweep_spares_them(order):
    (claimed,) = claim([order.pk], timedelta(seconds=-1))

    assert claims.extend_leases([claimed], timedelta(seconds=60)) == 1
    assert claims.sweep_expired() == 0
    assert Order.objects.get(pk=order.pk).status == Order.Status.SUBMITTING


def test_a_second_driver_exits_at_once_while_the_lease_is_live(order, enqueued):
    assert lease.acquire() is not None
    client = ScriptedClient()

    assert run(client) is None
    assert client.calls == Counter()


def test_ensure_driver_sweeps_and_starts_a_driver_only_without_a_live_lease(order, enqueued):
    assert ensure() == {"swept": 0, "started": True}
    lease.acquire()
    assert ensure() == {"swept": 0, "started": False}
    assert enqueued == ["drive"]


def test_polling_leaves_pending_orders_for_later_and_asks_100_ids_per_call(db, enqueued):
    batch = make_batch(orders=150)
    now = timezone.now()
    for i, o in enumerate(batch.orders.all()):
        Order.objects.filter(pk=o.pk).update(
            status=Order.Status.PENDING, remote_id=1000 + i, next_poll_at=now, submitted_at=now
        )
    client = ScriptedClient(remote_status="Pending")

    run(client, seconds=0.3)

    assert sorted(len(ids) for ids in client.status_calls) == [50, 100]
    assert not batch.orders.filter(next_poll_at__lte=timezone.now()).exists()


def test_no_status_call_is_made_when_no_order_awaits_a_result(order, enqueued):
    client = ScriptedClient()
    Order.objects.update(status=Order.Status.FAILED)

    run(client, seconds=0.3)

    assert client.status_calls == []


def test_the_send_rate_bucket_grants_no_more_than_the_rate(db, settings):
    settings.SUBMIT_RATE_PER_MINUTE = 60  # one a second, bursts of 5
    make_batch(orders=10)
    lease_time = timedelta(minutes=1)

    assert len(claims.claim(limit=30, wanted=10, lease=lease_time)) == 5
    assert claims.claim(limit=30, wanted=10, lease=lease_time) == []
    two_seconds_ago = Dispatcher.get().send_tokens_at - timedelta(seconds=2)
    Dispatcher.row().update(send_tokens_at=two_seconds_ago)
    assert len(claims.claim(limit=30, wanted=10, lease=lease_time)) == 2


def test_no_send_rate_means_no_bucket(db, settings):
    settings.SUBMIT_RATE_PER_MINUTE = 0
    make_batch(orders=10)

    assert len(claims.claim(limit=30, wanted=10, lease=timedelta(minutes=1))) == 10
    assert Dispatcher.get().send_tokens is None


def test_the_adaptive_limit_halves_once_per_storm_and_creeps_back_one_slot_at_a_time(db, settings):
    settings.SUBMIT_CONCURRENCY = 8
    Dispatcher.get()
    before = timezone.now() - timedelta(seconds=1)

    assert limits.throttled(claimed_at=before) is True
    assert limits.throttled(claimed_at=before) is False  # claimed before the halving
    assert (limits.creep(), limits.current().concurrency) == (False, 4)  # not quiet long enough
    quiet = timezone.now() - timedelta(seconds=limits.CREEP_SECONDS + 1)
    Dispatcher.row().update(limit_changed_at=quiet)
    assert (limits.creep(), limits.current().concurrency) == (True, 5)
    assert Dispatcher.get().effective_concurrency == 5


def test_the_adaptive_limit_returns_to_the_configured_cap(db, settings):
    settings.SUBMIT_CONCURRENCY = 8
    Dispatcher.get()
    Dispatcher.row().update(effective_concurrency=7, limit_changed_at=None)

    assert limits.creep() is True
    assert (Dispatcher.get().effective_concurrency, limits.current().concurrency) == (None, 8)
