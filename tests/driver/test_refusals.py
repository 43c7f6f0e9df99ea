"""Account-wide refusals, in process: funds pause every live batch, a repeated unseen text
pauses, different texts fail only their own orders."""

from orders.models import Batch, Order
from tests.fixtures.driver import ScriptedClient, error, run, scripted
from tests.fixtures.factories import make_batch

Status = Order.Status


def test_a_refusal_that_speaks_of_funds_pauses_every_live_batch_at_once(db, one_call_at_a_time):
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


def test_the_same_unseen_refusal_for_three_orders_in_a_row_pauses_and_fails_none(
    db, one_call_at_a_time
):
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


def test_refusals_with_different_texts_fail_only_their_own_orders(db, one_call_at_a_time):
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
