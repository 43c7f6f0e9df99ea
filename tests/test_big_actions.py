"""Big actions answer quickly and say they are working: a batch's queued
orders are cancelled, and an import's orders created, in bulk (a fixed handful of statements,
whatever the size), and a pressed button shows that its action is on its way."""

import pytest
from playwright.sync_api import expect

from orders.models import Batch, BatchStatusCount, Order, OrderEvent
from submissions import services
from tests.fixtures.factories import make_batch, make_service, valid_imei
from tests.fixtures.imports import confirm, csv_of, upload

S = Order.Status


def cancelled_with_queries(size, user, django_assert_max_num_queries):
    batch = make_batch(orders=size)
    Order.objects.filter(pk=batch.orders.order_by("pk").first().pk).update(
        status=S.PENDING, remote_id=7
    )
    with django_assert_max_num_queries(20):
        result = services.cancel_batch(Batch.objects.get(pk=batch.pk), user)
    return batch, result


@pytest.mark.django_db
@pytest.mark.parametrize("size", [20, 2000])
def test_cancelling_a_batch_costs_the_same_few_queries_at_any_size(
    size, staff_user, django_assert_max_num_queries
):
    batch, result = cancelled_with_queries(size, staff_user, django_assert_max_num_queries)

    assert (result.orders_cancelled, result.already_sent) == (size - 1, 1)
    counts = dict(BatchStatusCount.objects.filter(batch=batch).values_list("status", "orders"))
    assert (counts[S.QUEUED], counts[S.CANCELLED], counts[S.PENDING]) == (0, size - 1, 1)
    events = OrderEvent.objects.filter(batch=batch, to_status=S.CANCELLED)
    assert events.count() == size - 1
    assert set(events.values_list("from_status", "actor", "detail")) == {
        (S.QUEUED, staff_user.pk, "Cancelled before it was sent.")
    }


@pytest.mark.browser
def test_the_pressed_cancel_button_says_it_is_working(staff_page, screenshot):
    batch = make_batch(orders=5, source_name="big.csv")
    staff_page.goto(f"/admin/orders/batch/{batch.pk}/change/")
    staff_page.click("button.control-cancel_batches")
    # Hold the form where it is, to look at the page between the press and the answer.
    staff_page.evaluate("document.addEventListener('submit', e => e.preventDefault(), true)")

    staff_page.click("input[type=submit]")

    expect(staff_page.locator(".busy-note")).to_have_text(
        "Working… this takes a few seconds for a big batch."
    )
    expect(staff_page.locator("input[type=submit]")).to_have_attribute("aria-busy", "true")
    screenshot("working")


@pytest.mark.django_db
@pytest.mark.parametrize("size", [20, 2000])
def test_confirming_an_import_costs_the_same_few_queries_at_any_size(
    size, staff_client, django_assert_max_num_queries
):
    checked = upload(staff_client, csv_of([valid_imei(n) for n in range(size)]), make_service())

    with django_assert_max_num_queries(25):
        confirm(staff_client, checked)

    batch = Batch.objects.get()
    imeis = list(batch.orders.order_by("pk").values_list("imei", flat=True))
    assert imeis == [valid_imei(n) for n in range(size)]  # in file order: sent in file order
    counts = dict(BatchStatusCount.objects.filter(batch=batch).values_list("status", "orders"))
    assert counts == {S.QUEUED: size}
