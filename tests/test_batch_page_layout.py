"""The batch page's bars and buttons: no two controls overlap at
1280, 1400 or 1920 px, and a cancelled batch's bar shows what completed, failed and was
cancelled, each in its own colour."""

import pytest
from playwright.sync_api import expect

from orders.models import Batch, Order
from tests.fixtures.factories import make_batch

S = Order.Status
WIDTHS = [1280, 1400, 1920]
OVERLAPS = """() => {
    const boxes = [...document.querySelectorAll(
        '#content a, #content button, #content input:not([type=hidden]), #content select')]
        .filter(e => e.offsetParent !== null)
        .map(e => [e, e.getBoundingClientRect()])
        .filter(([, r]) => r.width > 0 && r.height > 0);
    const hits = [];
    for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
        const [a, ra] = boxes[i], [b, rb] = boxes[j];
        if (a.contains(b) || b.contains(a)) continue;
        if (ra.left < rb.right - 1 && rb.left < ra.right - 1
            && ra.top < rb.bottom - 1 && rb.top < ra.bottom - 1)
            hits.push(a.textContent.trim() + ' / ' + b.textContent.trim());
    }
    return hits;
}"""


def batch_with_every_button():
    """Running, with orders awaiting a result and failed ones: every button applies."""
    batch = make_batch(orders=10, source_name="a-rather-long-file-name-from-the-warehouse.csv")
    ids = list(batch.orders.values_list("pk", flat=True))
    Order.objects.filter(pk__in=ids[:3]).update(status=S.PENDING, remote_id=1)
    Order.objects.filter(pk__in=ids[3:5]).update(status=S.FAILED, last_error="HTTP 502")
    return batch


def cancelled_batch():
    batch = make_batch(orders=10, state=Batch.State.CANCELLED, source_name="cancelled.csv")
    ids = list(batch.orders.values_list("pk", flat=True))
    Order.objects.filter(pk__in=ids[:4]).update(status=S.COMPLETED)
    Order.objects.filter(pk__in=ids[4:6]).update(status=S.FAILED, last_error="HTTP 502")
    Order.objects.filter(pk__in=ids[6:]).update(status=S.CANCELLED)
    return batch


@pytest.mark.browser
@pytest.mark.parametrize("width", WIDTHS)
def test_no_two_controls_overlap_on_the_batch_page(staff_page, width):
    batch = batch_with_every_button()
    staff_page.set_viewport_size({"width": width, "height": 900})

    staff_page.goto(f"/admin/orders/batch/{batch.pk}/change/")

    expect(staff_page.locator("button.control-sync_status_now")).to_be_visible()
    expect(staff_page.locator("a.export-link")).to_be_visible()
    assert staff_page.evaluate(OVERLAPS) == []


@pytest.mark.browser
def test_a_cancelled_batch_bar_shows_completed_failed_and_cancelled_apart(staff_page, screenshot):
    batch = cancelled_batch()

    staff_page.goto(f"/admin/orders/batch/{batch.pk}/change/")

    widths = staff_page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll('[data-bar=final] [data-seg]')]
            .map(e => [e.dataset.seg, [Math.round(e.getBoundingClientRect().width
                / e.parentElement.getBoundingClientRect().width * 100),
                getComputedStyle(e).backgroundColor]]))"""
    )
    assert {name: share for name, (share, _) in widths.items()} == {
        "completed": 40,
        "rejected": 0,
        "failed": 20,
        "cancelled": 40,
    }
    colours = {colour for _, colour in widths.values()}
    assert len(colours) == 4, "each part its own colour"
    expect(staff_page.locator(".seg-legend")).to_contain_text("4 completed")
    expect(staff_page.locator(".seg-legend")).to_contain_text("2 failed or unknown")
    expect(staff_page.locator(".seg-legend")).to_contain_text("4 cancelled")
    screenshot("cancelled")
