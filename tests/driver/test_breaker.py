"""Unattended operation, in process: the circuit breaker. Account-wide refusals are in
test_refusals.py, reconciliation in test_reconcile.py, the graceful stop in test_shutdown.py.

The same behaviours run end to end against a real qcluster in tests/test_unattended_cluster.py.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from orders.models import Batch, Order
from submissions.driver import breaker
from submissions.driver.outcomes import OUTAGE_NOTE
from submissions.models import Breaker
from tests.fixtures.driver import ScriptedClient, error, run, scripted
from tests.fixtures.factories import make_batch

Status = Order.Status
HTTP_502 = "HTTP 502: try again later"


def open_breaker(probe_in_seconds, probe_seconds=1):
    Breaker.get()
    Breaker.row().update(
        opened_at=timezone.now() - timedelta(minutes=1),
        next_probe_at=timezone.now() + timedelta(seconds=probe_in_seconds),
        probe_seconds=probe_seconds,
        reason=HTTP_502,
    )


# -- the circuit breaker ---------------------------------------------------------------------------


def test_outage_failures_open_the_breaker_and_stop_sending_without_spending_attempts(
    db, one_call_at_a_time
):
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


def test_a_failed_probe_doubles_the_wait_and_sends_nothing_else(db, one_call_at_a_time):
    batch = make_batch(orders=4)
    open_breaker(probe_in_seconds=0, probe_seconds=2)
    client = scripted(batch, error("transient", "Could not connect: refused"))

    run(client, seconds=0.5)

    assert sum(client.calls.values()) == 1
    row = Breaker.get()
    assert (row.probes, row.probe_seconds, row.reason) == (1, 4, "Could not connect: refused")
    assert not batch.orders.exclude(attempts=0).exists()  # the probe spent no attempt


def test_the_wait_between_probes_is_capped(db, one_call_at_a_time, settings):
    settings.BREAKER_MAX_PROBE_SECONDS = 3
    batch = make_batch(orders=2)
    open_breaker(probe_in_seconds=0, probe_seconds=2)

    run(scripted(batch, error("transient", HTTP_502, status_code=502)), seconds=0.3)

    assert Breaker.get().probe_seconds == 3


def test_a_probe_that_is_placed_closes_the_breaker_and_every_order_is_sent(db, one_call_at_a_time):
    batch = make_batch(orders=5, state=Batch.State.QUEUED)
    open_breaker(probe_in_seconds=0)
    client = ScriptedClient()

    run(client, seconds=1.0)

    row = Breaker.get()
    assert (row.opened_at, row.closed_at is not None) == (None, True)
    assert set(batch.orders.values_list("status", flat=True)) == {Status.PENDING}
    assert not breaker.state().open


def test_nothing_is_sent_before_the_next_probe_is_due(db, one_call_at_a_time):
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
