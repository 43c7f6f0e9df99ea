"""Check now, the priority control and one IMEI's history, in a real browser."""

import pytest

from orders.models import Batch, Order
from tests.fixtures.factories import make_batch, make_order, make_service, valid_imei

pytestmark = pytest.mark.browser


def test_check_now_shows_the_result_without_a_reload(staff_page, enqueued, screenshot):
    service = make_service()
    staff_page.goto("/admin/")
    staff_page.fill("#check-now textarea", f"{valid_imei(1)}\n{valid_imei(2)}")
    staff_page.select_option("#check-now select", str(service.pk))
    screenshot("check-now-box")

    staff_page.click("#check-now-submit")
    staff_page.wait_for_selector("#check-now-results")
    batch = Batch.objects.get(priority=Batch.Priority.URGENT)
    staff_page.evaluate("window.notReloaded = true")
    batch.orders.update(status=Order.Status.COMPLETED, carrier="T-Mobile", fmi="OFF")

    cell = staff_page.locator('#check-now-results tr:first-child [data-field="carrier"]')
    cell.filter(has_text="T-Mobile").wait_for()
    staff_page.locator("#check-now-state", has_text="All results in.").wait_for()
    screenshot("check-now-results")
    assert staff_page.evaluate("window.notReloaded") is True
    assert batch.orders.count() == 2 and enqueued == ["drive"]


def test_an_operator_raises_a_batchs_priority_on_its_page(staff_page, screenshot):
    batch = make_batch(orders=3)
    staff_page.goto(f"/admin/orders/batch/{batch.pk}/change/")

    staff_page.select_option("#priority-select", "high")
    staff_page.click("#priority-save")
    staff_page.locator(".messagelist", has_text="set to high").wait_for()
    screenshot("priority-high")

    batch.refresh_from_db()
    assert batch.priority == "high"
    assert staff_page.input_value("#priority-select") == "high"


def test_the_order_page_leads_to_the_imeis_history_and_its_changes(staff_page, screenshot):
    imei = valid_imei(5)
    make_order(imei=imei, status=Order.Status.COMPLETED, fmi="ON", carrier="T-Mobile")
    later = make_order(imei=imei, status=Order.Status.COMPLETED, fmi="OFF", carrier="T-Mobile")
    staff_page.goto(f"/admin/orders/order/{later.pk}/change/")

    staff_page.click("#order-history")
    staff_page.wait_for_selector("#imei-orders")
    screenshot("history")

    changes = staff_page.locator("#imei-changes li").all_inner_texts()
    assert len(changes) == 1 and changes[0].startswith("Find My iPhone: ON → OFF")
    assert staff_page.locator("#imei-orders thead th").count() == 3
