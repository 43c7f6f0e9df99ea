"""The operator's day (issue 15) in a real browser, at 1400x1000 and at 1280x800.

Playwright drives Debian's Chromium (tests/fixtures/browser.py); each step leaves a screenshot
under artifacts/, named with the test and the viewport.
"""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from orders.models import Order
from tests.fixtures.browser import VIEWPORTS
from tests.fixtures.factories import make_batch, make_order, make_service, valid_imei

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("viewport", VIEWPORTS.values(), ids=VIEWPORTS.keys()),
]

S = Order.Status
LONG_TITLE = (
    "10-7.1# Apple iPhone IMEI Carrier + Simlock + FMI + WW + Activation Etc "
    "🔥Hot Exclusive Checker🔥"
)


def no_horizontal_scroll(page):
    """Neither the page nor the list's own scroll box (`.results`) scrolls sideways."""
    return page.evaluate(
        """() => [document.documentElement, ...document.querySelectorAll('.results')]
            .every(e => e.scrollWidth <= e.clientWidth)"""
    )


def completed_orders(count):
    batch = make_batch(service=make_service(title=LONG_TITLE), source_name="good.csv")
    for n in range(count):
        make_order(
            batch,
            S.COMPLETED,
            imei=valid_imei(n),
            remote_id=15562209 + n,
            carrier="Sprint/T-Mobile",
            simlock="Unlocked",
            fmi="OFF",
            model_name="iPhone 14 Pro Max Deep Purple 256GB",
            cost="0.08",
            # Older than today: the list shows its day and time ("28 Nov 14:05").
            created_at=timezone.now() - timedelta(days=n % 3),
        )
    return batch


def test_the_order_list_shows_each_order_on_one_line_with_its_results(staff_page, screenshot):
    completed_orders(20)

    staff_page.goto("/admin/orders/order/")

    rows = staff_page.locator("#result_list tbody tr")
    expect(rows).to_have_count(20)
    screenshot("order-list")
    heights = {round(box["height"]) for box in (r.bounding_box() for r in rows.all())}
    assert len(heights) == 1 and heights.pop() < 40, "every row is one line high"
    visible = staff_page.locator(".results").bounding_box()
    right_edge = visible["x"] + visible["width"]
    for column in ("carrier", "simlock_display", "fmi_display", "model_display", "cost_display"):
        box = staff_page.locator(
            f"#result_list tbody tr:first-child td.field-{column}"
        ).bounding_box()
        assert box["x"] + box["width"] <= right_edge, f"{column} is cut off"
    assert no_horizontal_scroll(staff_page)
    expect(staff_page.locator("h1")).to_have_text("Orders")
    expect(staff_page.locator("td.field-cost_display").first).to_have_text("$0.08")
    expect(staff_page.locator("td.field-service_display").first).to_have_text(
        "Apple iPhone IMEI Car…"
    )
