"""Every Order and Batch transition, from each state it allows and refused from the others."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from orders.models import Batch, Order, OrderEvent
from submissions.driver import polling
from tests.fixtures.factories import claim, make_batch, make_order, polled, valid_imei

S = Order.Status
B = Batch.State
ALL = list(S)

# transition name -> (call, states it moves from, resulting state)
TRANSITIONS = {
    "mark_placed": (
        lambda o: o.mark_placed(15562210, "Pending", "<raw/>", 0.5),
        [S.SUBMITTING, S.UNKNOWN],  # a late answer still proves the order exists
        S.PENDING,
    ),
    "mark_duplicate": (lambda o: o.mark_duplicate("<error/>"), [S.SUBMITTING], S.DUPLICATE),
    "mark_retry": (
        lambda o: o.mark_retry("HTTP 502", timedelta(seconds=2)),
        [S.SUBMITTING],
        S.QUEUED,
    ),
    "release": (lambda o: o.release("not sent"), [S.SUBMITTING], S.QUEUED),
    "mark_failed": (lambda o: o.mark_failed("Insufficient balance!"), [S.SUBMITTING], S.FAILED),
    "fail_by_operator": (
        lambda o: o.fail_by_operator(None, "Checked with the provider: not placed"),
        [S.QUEUED, S.UNKNOWN],
        S.FAILED,
    ),
    "mark_unknown": (lambda o: o.mark_unknown("No answer"), [S.SUBMITTING], S.UNKNOWN),
    "cancel": (lambda o: o.cancel(), [S.QUEUED], S.CANCELLED),
    "requeue": (lambda o: o.requeue(), [S.FAILED], S.QUEUED),
    "requeue_unknown": (lambda o: o.requeue(include_unknown=True), [S.FAILED, S.UNKNOWN], S.QUEUED),
    "completed": (
        lambda o: polled(o, "Completed", "Carrier: T-Mobile", "<raw/>", {"carrier": "T-Mobile"}),
        [S.PENDING, S.IN_PROCESS],
        S.COMPLETED,
    ),
    "rejected": (
        lambda o: polled(o, "Rejected", "Invalid_IMEI", "<raw/>"),
        [S.PENDING, S.IN_PROCESS],
        S.REJECTED,
    ),
    "in_process": (
        lambda o: polled(o, "In Process", "", "<raw/>"),
        [S.PENDING],
        S.IN_PROCESS,
    ),
}
CASES = [
    (name, status, status in allowed)
    for name, (_, allowed, _) in TRANSITIONS.items()
    for status in ALL
]


@pytest.mark.parametrize(("name", "status", "allowed"), CASES)
def test_each_order_transition_moves_only_from_its_allowed_states(db, name, status, allowed):
    call, _, target = TRANSITIONS[name]
    order = make_order(status=status, attempts=1)

    moved = call(order)

    order.refresh_from_db()
    assert bool(moved) == allowed
    assert order.status == (target if allowed else status)
    assert order.events.count() == (1 if allowed else 0)


def test_a_stale_copy_cannot_move_an_order_someone_else_moved(db):
    order = make_order(status=S.SUBMITTING)
    Order.objects.get(pk=order.pk).mark_retry("HTTP 502", timedelta(seconds=2))

    assert order.mark_placed(1, "Pending", "<raw/>") is False
    order.refresh_from_db()
    assert (order.status, order.remote_id) == (S.QUEUED, None)


def test_placing_records_the_id_the_cost_and_the_first_poll(db):
    order = make_order(status=S.SUBMITTING, attempts=1)

    order.mark_placed(15562210, "Pending", "<raw/>", latency=0.25)

    order.refresh_from_db()
    assert (order.remote_id, order.cost, order.lease_expires_at) == (
        15562210,
        Decimal("0.08"),
        None,
    )
    assert order.next_poll_at is not None
    assert order.events.get().latency_ms == 250


def test_a_duplicate_after_a_lost_answer_is_charged_once_with_its_id_unknown(db):
    order = make_order(status=S.SUBMITTING, attempts=2)
    # Its history, not its attempt count, says an earlier send may have been placed.
    OrderEvent.objects.create(order=order, from_status=S.SUBMITTING, to_status=S.UNKNOWN)

    order.mark_duplicate("<error>IMEI already exists!</error>")

    order.refresh_from_db()
    assert (order.placed_without_id, order.cost) == (True, Decimal("0.08"))


def test_retry_on_the_last_attempt_fails_instead(db, settings):
    settings.SUBMIT_MAX_ATTEMPTS = 3
    order = make_order(status=S.SUBMITTING, attempts=3)

    order.mark_retry("HTTP 502", timedelta(seconds=8))

    order.refresh_from_db()
    assert (order.status, order.last_error) == (S.FAILED, "Gave up after 3 attempts: HTTP 502")


def test_release_gives_the_attempt_back(db):
    order = make_order(status=S.SUBMITTING, attempts=2)

    order.release("Invalid API Key!")

    order.refresh_from_db()
    assert order.attempts == 1


def test_claim_takes_only_queued_orders_and_counts_an_attempt(db):
    batch = make_batch(orders=3)
    first, second, third = batch.orders.order_by("id")
    Order.objects.filter(pk=third.pk).update(status=S.FAILED)

    claimed = claim([first.pk, second.pk, third.pk], timedelta(seconds=30))

    assert sorted(o.pk for o in claimed) == [first.pk, second.pk]
    assert {(o.status, o.attempts) for o in claimed} == {(S.SUBMITTING, 1)}
    assert claim([first.pk], timedelta(seconds=30)) == []


BATCH_TRANSITIONS = {
    "mark_running": (lambda b: b.mark_running(), [B.QUEUED], B.RUNNING),
    "pause": (lambda b: b.pause("paused"), [B.QUEUED, B.RUNNING], B.PAUSED),
    "resume": (lambda b: b.resume(), [B.PAUSED, B.DONE], B.RUNNING),
    "cancel": (lambda b: b.cancel("cancelled"), [B.QUEUED, B.RUNNING, B.PAUSED], B.CANCELLED),
    "mark_done": (lambda b: b.mark_done(), [B.RUNNING], B.DONE),
}
BATCH_CASES = [
    (name, state, state in allowed)
    for name, (_, allowed, _) in BATCH_TRANSITIONS.items()
    for state in B
]


@pytest.mark.parametrize(("name", "state", "allowed"), BATCH_CASES)
def test_each_batch_transition_moves_only_from_its_allowed_states(db, name, state, allowed):
    call, _, target = BATCH_TRANSITIONS[name]
    batch = make_batch(state=state)

    assert call(batch) == allowed
    batch.refresh_from_db()
    assert batch.state == (target if allowed else state)


def test_a_batch_with_an_open_order_is_not_done(db):
    batch = make_batch(orders=1)

    assert batch.mark_done() is False
    assert Batch.objects.get().state == B.RUNNING


def test_older_orders_are_polled_less_often(db, settings):
    settings.STATUS_POLL_SECONDS = 60
    now = timezone.now()
    fresh = make_order(status=Order.Status.PENDING, submitted_at=now)
    old = make_order(
        batch=fresh.batch, imei=valid_imei(2), status=Order.Status.PENDING,
        submitted_at=now - timedelta(hours=3),
    )  # fmt: skip
    ancient = make_order(
        batch=fresh.batch, imei=valid_imei(3), status=Order.Status.PENDING,
        submitted_at=now - timedelta(days=2),
    )  # fmt: skip

    polling.schedule_next_polls([fresh, old, ancient], now=now)

    waits = [Order.objects.get(pk=o.pk).next_poll_at - now for o in (fresh, old, ancient)]
    # A minute for a fresh order; a tenth of the age (18 min) for a 3-hour-old one; capped at 1 h.
    assert waits == [timedelta(minutes=1), timedelta(minutes=18), timedelta(hours=1)]


def test_a_re_submitted_order_that_may_have_been_placed_stays_marked_so(db):
    order = make_order(status=Order.Status.UNKNOWN)
    order.requeue(include_unknown=True)
    Order.objects.filter(pk=order.pk).update(status=Order.Status.FAILED)  # failed on the re-send
    order.refresh_from_db()

    order.requeue()

    order.refresh_from_db()
    assert (order.status, order.placed_without_id) == (Order.Status.QUEUED, True)
