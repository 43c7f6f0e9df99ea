"""The demo's faults: the fake refuses some orders (they fail) and rejects some results."""

import requests

import submissions.driver
from devtools.fakefusion.server import REFUSED
from orders.models import Order
from submissions.driver import drive
from tests.fixtures.factories import make_batch, valid_imei

KEY = "DEMO-DEMO-DEMO-DEMO-DEMO"
DECLARATION = '<?phpxml version="1.0" encoding="utf-8"?>'


def call(fake, action, **params):
    data = {"userId": "demo", "apiKey": KEY, "action": action, **params}
    return requests.post(f"{fake.base_url}/gsmfusion_api/index.php", data=data, timeout=5).text


def test_a_refused_order_is_an_error_and_nothing_is_created_or_charged(make_fake_provider):
    fake = make_fake_provider(refuse_rate=1.0)

    answer = call(fake, "placeorder", imei=valid_imei(1), networkId="1739")

    assert answer == f"{DECLARATION}<error>{REFUSED}</error>"
    assert (fake.stats()["orders_created"], fake.stats()["charged"]) == (0, "0")
    assert fake.stats()["refused"] == 1


def test_a_rejected_order_is_placed_then_rejected_as_invalid(make_fake_provider, clock):
    fake = make_fake_provider(reject_rate=1.0, latency=0, complete_after=60, clock=clock)
    call(fake, "placeorder", imei=valid_imei(1), networkId="1739")
    clock.advance(60)

    answer = call(fake, "getimeis", orderIds="15562209")

    assert "<status>Rejected</status><code>Invalid_IMEI</code>" in answer
    assert fake.stats()["charged"] == "0.08"


def test_the_engine_fails_a_refused_order_so_it_can_be_resubmitted(
    make_fake_provider, db, monkeypatch, clock
):
    make_fake_provider(refuse_rate=1.0, clock=clock)
    monkeypatch.setattr(submissions.driver, "enqueue", lambda: None)
    batch = make_batch(orders=1)

    drive(deadline_seconds=1, clock=clock)

    order = batch.orders.get()
    assert (order.status, order.last_error) == (Order.Status.FAILED, REFUSED)
