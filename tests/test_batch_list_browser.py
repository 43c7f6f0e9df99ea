"""The batch list in a real browser: one line per batch, 1280 px wide, no horizontal scroll."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from orders.models import Batch, Order
from tests.fixtures.factories import make_batch, make_service

pytestmark = pytest.mark.browser

S = Order.Status


def test_the_batch_list_fits_1280_pixels_without_scrolling(staff_page, staff_user, screenshot):
    service = make_service(title="Apple iPhone IMEI Carrier + Simlock + FMI + GSMA 🔥 check")
    now = timezone.now()
    for n in range(6):
        batch = make_batch(
            service=service, orders=30, user=staff_user,
            source_name=f"warehouse-returns-{n}-very-long-spreadsheet-name-2026-12-01.csv",
            state=Batch.State.DONE if n % 2 else Batch.State.RUNNING,
            started_at=now - timedelta(hours=n + 1),
            finished_at=now - timedelta(hours=n) if n % 2 else None,
        )  # fmt: skip
        ids = list(batch.orders.values_list("pk", flat=True)[:20])
        Order.objects.filter(pk__in=ids).update(status=S.COMPLETED, cost=Decimal("110.00"))
    staff_page.set_viewport_size({"width": 1280, "height": 900})

    staff_page.goto("/admin/orders/batch/")
    screenshot("batch-list-1280")

    widths = staff_page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1], widths
    row_heights = staff_page.eval_on_selector_all(
        "#result_list tbody tr", "rows => rows.map(r => r.getBoundingClientRect().height)"
    )
    assert len(row_heights) == 6 and max(row_heights) < 50, row_heights
