"""The breaker for paid garbage: a service whose completed results are worthless is paused.

The fake provider completes one service's orders with garbage (`junk_service`); polling
judges each completed result (submissions/garbage.py), the claim skips a paused service's
batches, an alert shows examples, and an operator resumes it.
"""

from decimal import Decimal

import pytest
from django.urls import reverse

from devtools.fakefusion.data import CATALOGUE, completed_code
from orders.models import Batch, Order, Service
from submissions import alerts, garbage
from submissions.driver import claims, polling
from submissions.models import Alert, ServiceHold
from submissions.provider import GsmFusionClient
from tests.fixtures.driver import run
from tests.fixtures.factories import make_batch, make_service

CHECKER, FMI = CATALOGUE[0], CATALOGUE[1]  # 1739 and 1201


@pytest.fixture
def junk(db, enqueued, settings, make_fake_provider):
    """FMI (1201) answers garbage; a window of 10 results, paused beyond 20 % (2 of 10)."""
    settings.SUBMIT_CONCURRENCY, settings.STATUS_POLL_SECONDS = 2, 0.1  # results polled in the run
    settings.GARBAGE_WINDOW, settings.GARBAGE_PERCENT = 10, 20
    make_fake_provider(latency=0.0, complete_after=0, junk_service=FMI[0])
    for row in (CHECKER, FMI):
        make_service(id=row[0], title=row[1], price=Decimal(row[3]))
    client = GsmFusionClient.from_settings()
    yield client
    client.close()


def place(client, service_id, orders):
    batch = make_batch(Service.objects.get(pk=service_id), orders, state=Batch.State.QUEUED)
    run(client, seconds=10)
    polling.poll_due(client)
    return batch


@pytest.mark.parametrize(
    "code",
    ["", "Unknown", "Model: Unknown<br>Carrier: Unknown<br>SimLock: Unknown", "?? ??", "<br><br>"],
)
def test_empty_unknown_and_unparseable_results_are_garbage(code):
    assert garbage.is_garbage(code)


@pytest.mark.parametrize(
    "code", [completed_code("356789012345675"), "Clean", "Model: Unknown<br>Carrier: T-Mobile"]
)
def test_a_result_with_any_real_value_is_not_garbage(code):
    assert not garbage.is_garbage(code)


def test_garbage_results_pause_only_that_service_with_an_alert_showing_examples(junk):
    place(junk, CHECKER[0], 4)
    place(junk, FMI[0], 4)  # four garbage results: more than 20 % of a window of 10

    hold = ServiceHold.objects.get(service_id=FMI[0])
    assert hold.paused_at is not None
    # It trips at the chunk that holds the third garbage result (polls may bring 3 or all 4).
    tripped_at = int(hold.reason.split()[0])
    assert tripped_at in (3, 4)
    assert hold.reason == (
        f'{tripped_at} of its last {tripped_at} completed results were empty, "Unknown" or '
        "unparseable (the limit: 20% of 10). Its orders are not sent until an operator resumes it."
    )
    assert hold.recent == "xxxx"
    assert not ServiceHold.objects.get(service_id=CHECKER[0]).paused_at
    alerts.evaluate()
    detail = Alert.objects.get(key="garbage", closed_at=None).detail
    assert detail.startswith(f"Service {FMI[0]} ({FMI[1]}): {tripped_at} of its last {tripped_at}")
    assert " Examples: order " in detail
    for order in Order.objects.filter(service_id=FMI[0]):
        assert f"order {order.pk} (IMEI {order.imei}): {order.result_code!r}" in detail


def test_two_garbage_results_in_a_window_of_ten_do_not_pause(db, settings):
    settings.GARBAGE_WINDOW, settings.GARBAGE_PERCENT = 10, 20
    service = make_service()
    orders = [Order(pk=n, service=service, status=Order.Status.COMPLETED) for n in range(1, 9)]
    codes = ["", "Unknown"] + [completed_code("356789012345675")] * 6
    for order, code in zip(orders, codes, strict=True):
        order.result_code = code

    assert garbage.record_results(orders) == []
    assert ServiceHold.objects.get().recent == "xx......"


def test_the_claim_skips_a_paused_service_until_an_operator_resumes_it(junk, staff_client):
    place(junk, FMI[0], 3)
    waiting = make_batch(Service.objects.get(pk=FMI[0]), 2, state=Batch.State.QUEUED)
    other = make_batch(Service.objects.get(pk=CHECKER[0]), 2, state=Batch.State.QUEUED)

    assert {o.batch_id for o in claims.due_orders(10)} == {other.pk}

    response = staff_client.post(
        reverse("admin:submissions_servicehold_changelist"),
        {"action": "resume_sending", "_selected_action": [FMI[0]]},
        follow=True,
    )

    assert "1 services resumed." in response.content.decode()
    hold = ServiceHold.objects.get(service_id=FMI[0])
    assert (hold.paused_at, hold.recent, hold.resumed_at is not None) == (None, "", True)
    assert {o.batch_id for o in claims.due_orders(10)} == {waiting.pk, other.pk}
