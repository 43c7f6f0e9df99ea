"""The driver's limits: the in-flight cap, the 429 halving and the send-rate bucket."""

from datetime import timedelta

from django.utils import timezone

from orders.models import Order
from submissions.driver import claims, limits
from submissions.models import Dispatcher
from tests.fixtures.driver import ScriptedClient, error, run
from tests.fixtures.factories import claim, make_batch


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
