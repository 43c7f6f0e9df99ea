"""What each answer does to its order, with an in-process scripted client: transient, unknown,
duplicate, permanent, refused credentials."""

import pytest
from django.utils import timezone

from orders.models import Batch, Order
from submissions.models import Dispatcher
from tests.fixtures.driver import ScriptedClient, error, run
from tests.fixtures.factories import make_batch, make_order


@pytest.fixture
def order(db):
    return make_order(batch=make_batch(state=Batch.State.QUEUED))


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
