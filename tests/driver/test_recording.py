"""The answers of one loop turn are committed together, and a failed group loses none.

The driver's tests need real commits (`transactional_db`): a failed COMMIT is what they
reproduce. A getimeis chunk's events are written the same way, in one INSERT.
"""

from datetime import timedelta

import pytest
from django.db import OperationalError, connection, connections
from django.test.utils import CaptureQueriesContext

from orders.models import Batch, Order, OrderEvent
from submissions.driver import polling
from submissions.provider.answers import RemoteOrder
from tests.fixtures.driver import FIRST_ID, answered, fail_first_commit, failed, new_driver
from tests.fixtures.factories import claim, make_batch, make_order, valid_imei

LEASE = timedelta(minutes=1)


@pytest.fixture
def sent(transactional_db):
    """Three orders claimed together, as one driver sent them."""
    batch = make_batch(state=Batch.State.RUNNING)
    claimed = claim([make_order(batch=batch).pk for _ in range(3)], LEASE)
    return sorted(claimed, key=lambda order: order.pk)


def recorded(orders):
    ids = [order.pk for order in orders]
    rows = Order.objects.filter(pk__in=ids).order_by("pk").values_list("status", "remote_id")
    placed_events = OrderEvent.objects.filter(order__in=ids, to_status=Order.Status.PENDING)
    return list(rows), placed_events.count()


def test_a_group_whose_commit_fails_is_held_whole_and_each_answer_recorded_later(
    sent, monkeypatch, caplog
):
    driver = new_driver()
    futures = answered(driver, sent)
    fail_first_commit(monkeypatch)

    with pytest.raises(OperationalError):
        driver.recording.record(futures)

    assert recorded(sent) == ([(Order.Status.SUBMITTING, None)] * 3, 0)
    assert (driver.recording.held, driver.outcomes.summary["placed"]) == (set(futures), 0)
    assert caplog.text.count("Answer kept until it can be recorded (could not flush") == 3

    driver.recording.retry_held()

    pending = [(Order.Status.PENDING, FIRST_ID + n) for n in range(3)]
    assert recorded(sent) == (pending, 3)
    assert (driver.sending.sends, driver.recording.held, driver.outcomes.summary["placed"]) == (
        {},
        set(),
        3,
    )


def test_an_error_of_one_answer_holds_it_alone_and_its_group_is_committed(
    sent, monkeypatch, caplog
):
    driver = new_driver()
    futures = answered(driver, sent[:2]) + answered(driver, sent[2:], refused)
    original = Order.mark_retry

    def moved_then_bug(self, *args, **kwargs):
        original(self, *args, **kwargs)
        raise RuntimeError("a bug in recording this one")

    monkeypatch.setattr(Order, "mark_retry", moved_then_bug)

    driver.recording.record(futures)

    placed_two = [(Order.Status.PENDING, FIRST_ID), (Order.Status.PENDING, FIRST_ID + 1)]
    assert recorded(sent) == ([*placed_two, (Order.Status.SUBMITTING, None)], 2)
    assert (list(driver.sending.sends), driver.recording.held) == ([futures[2]], {futures[2]})
    assert "Answer kept until it can be recorded (a bug in recording this one)" in caplog.text
    assert retries(sent[2]) == 0  # its UPDATE went with its event, nothing half-written
    monkeypatch.setattr(Order, "mark_retry", original)

    driver.recording.retry_held()

    queued = Order.objects.values_list("status", flat=True).get(pk=sent[2].pk)
    assert (queued, retries(sent[2]), driver.sending.sends, driver.outcomes.summary) == (
        Order.Status.QUEUED,
        1,
        {},
        {"claimed": 0, "placed": 2, "retried": 1, "unknown": 0, "failed": 0},
    )


def retries(order):
    return OrderEvent.objects.filter(order=order, to_status=Order.Status.QUEUED).count()


def refused(order, n):
    return failed("transient", "HTTP 503: try again later", 503)


def test_a_driver_commits_the_answers_of_a_turn_together(sent, monkeypatch):
    driver = new_driver()
    futures = answered(driver, sent)
    commits = []
    wrapper = connections["default"]
    original = wrapper.commit
    monkeypatch.setattr(wrapper, "commit", lambda: commits.append(1) or original())

    driver.recording.record(futures)

    assert (recorded(sent)[1], len(commits)) == (3, 1)


def test_a_failed_group_puts_back_the_drivers_counters_and_stop_reason(sent, monkeypatch):
    driver = new_driver()
    futures = answered(driver, sent)
    fail_first_commit(monkeypatch)
    driver.outcomes.summary["placed"], driver.outcomes.stop_reason = 5, ""

    with pytest.raises(OperationalError):
        driver.recording.record(futures)

    assert (
        driver.outcomes.summary["placed"],
        driver.outcomes.stop_reason,
        driver.outcomes.provider_answered,
    ) == (5, "", False)


# -- a getimeis chunk: one transaction, its events in one INSERT -------------------------------


@pytest.fixture
def polled(db):
    """Four placed orders, as a poll round read them."""
    batch = make_batch(state=Batch.State.RUNNING)
    orders = [
        make_order(batch=batch, imei=valid_imei(n), status=Order.Status.PENDING, remote_id=n)
        for n in range(1, 5)
    ]
    return {order.remote_id: order for order in orders}


def remote(remote_id, status, code=""):
    return RemoteOrder(remote_id, "", status, code, "pkg", "", f"<imei><id>{remote_id}</id></imei>")


def test_a_poll_chunk_moves_each_order_once_with_its_fields_and_event(polled):
    # Order 4 was completed by another poll after this round read it.
    Order.objects.filter(pk=polled[4].pk).update(status=Order.Status.COMPLETED)
    answer = [
        remote(1, "Completed", "Model: iPhone 11<br>Carrier: T-Mobile"),
        remote(2, "Rejected", "Invalid_IMEI"),
        remote(3, "In Process"),
        remote(4, "Completed", "Model: iPhone 12"),
    ]

    changed = polling.record_statuses(polled, answer)

    rows = Order.objects.order_by("remote_id").values_list(
        "status", "model_name", "carrier", "last_error", "next_poll_at"
    )
    assert (changed, [(*row[:4], row[4] is None) for row in rows]) == (
        3,
        [
            (Order.Status.COMPLETED, "iPhone 11", "T-Mobile", "", True),
            (Order.Status.REJECTED, "", "", "Rejected by the provider: Invalid_IMEI", True),
            (Order.Status.IN_PROCESS, "", "", "", False),
            (Order.Status.COMPLETED, "", "", "", False),
        ],
    )
    events = OrderEvent.objects.order_by("order__remote_id").values_list(
        "order__remote_id", "from_status", "to_status", "detail"
    )
    assert list(events) == [
        (1, Order.Status.PENDING, Order.Status.COMPLETED, "<imei><id>1</id></imei>"),
        (2, Order.Status.PENDING, Order.Status.REJECTED, "<imei><id>2</id></imei>"),
        (3, Order.Status.PENDING, Order.Status.IN_PROCESS, "<imei><id>3</id></imei>"),
    ]


def test_a_poll_chunk_locks_its_moved_orders_once_and_writes_one_insert_of_events(polled):
    answer = [remote(n, "Completed", f"Model: iPhone {n}") for n in range(1, 5)]

    with CaptureQueriesContext(connection) as queries:
        polling.record_statuses(polled, answer)

    # The garbage breaker's row of the service (submissions/garbage.py) is read and written
    # once per service and chunk; the orders and their events are what this test is about.
    orders = [q["sql"] for q in queries.captured_queries if "servicehold" not in q["sql"]]
    statements = [sql.split()[0] for sql in orders]
    assert (statements.count("SELECT"), statements.count("INSERT")) == (1, 1)
    assert OrderEvent.objects.filter(to_status=Order.Status.COMPLETED).count() == 4
