"""The order list reads in full: model, service, carrier, status and the
failure reason at 1400 px, wrapped if need be, never cut off with an ellipsis."""

import pytest
from playwright.sync_api import expect

from orders.models import Order
from tests.fixtures.factories import make_batch, make_order, make_service, valid_imei

S = Order.Status
TITLE = "10-7.1# Apple iPhone IMEI Carrier + Simlock + FMI + WW + Activation Etc 🔥Hot Exclusive🔥"
MODEL = "iPhone 14 Pro Max Deep Purple 256GB A2651 (Japan, dual eSIM)"
CARRIER = "US AT&T Locked Policy - Premium Unlock Eligible After 60 Days"
REASON = "Gave up after 5 attempts: HTTP 503 Service Unavailable from the provider"
COLUMNS = ["status_display", "reason_display", "service_display", "carrier", "model_display"]


def orders_with_long_results():
    batch = make_batch(service=make_service(title=TITLE))
    make_order(batch, S.COMPLETED, imei=valid_imei(1), model_name=MODEL, carrier=CARRIER)
    make_order(batch, S.FAILED, imei=valid_imei(2), last_error=REASON)
    make_order(batch, S.REJECTED, imei=valid_imei(3), last_error="permanent: <?xml x")


@pytest.mark.django_db
def test_a_failed_orders_row_says_why(staff_client):
    orders_with_long_results()

    page = staff_client.get("/admin/orders/order/").text

    assert f'<td class="field-reason_display">{REASON}</td>' in page
    assert "The provider refused the order: The provider answered in a form" in page


@pytest.mark.browser
def test_the_deciding_columns_read_in_full_at_1400_px(staff_page, screenshot):
    orders_with_long_results()

    staff_page.goto("/admin/orders/order/")

    for column in COLUMNS:
        cut = staff_page.evaluate(
            """(column) => [...document.querySelectorAll('td.field-' + column)].filter(
                td => td.scrollWidth > td.clientWidth
                    || [...td.querySelectorAll('*')].some(e => e.scrollWidth > e.clientWidth
                        || getComputedStyle(e).textOverflow === 'ellipsis')).length""",
            column,
        )
        assert cut == 0, f"{column} is cut off"
    row = staff_page.locator("#result_list tbody tr", has_text=valid_imei(1))
    expect(row.locator("td.field-model_display")).to_have_text(MODEL)
    expect(row.locator("td.field-carrier")).to_have_text(CARRIER)
    failed = staff_page.locator("#result_list tbody tr", has_text=valid_imei(2))
    expect(failed.locator("td.field-reason_display")).to_have_text(REASON)
    screenshot("order-list")
