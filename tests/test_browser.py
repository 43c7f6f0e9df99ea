"""A staff member's day in a real browser: log in, import, watch the batch, re-submit, export.

Playwright drives Debian's Chromium (tests/fixtures/browser.py) against the live server. Each
step leaves a screenshot under artifacts/. Waits are generous upper bounds, never measurements.
"""

import csv
import io

import pytest
from playwright.sync_api import expect

from orders.models import Batch, Order
from tests.fixtures.browser_steps import upload
from tests.fixtures.cluster import wait_for
from tests.fixtures.factories import make_batch, make_service, valid_imei

pytestmark = pytest.mark.browser

S = Order.Status
BAD_ROW = "353370080089458"  # fails the Luhn check (the staff sample's first IMEI)


def open_batch_page(page, batch):
    page.goto(f"/admin/orders/batch/{batch.pk}/change/")
    page.evaluate("window.__notReloaded = true")  # gone if the page reloads


def expect_final_bar(page, percent, timeout=15_000):
    expect(page.locator('[data-bar="final"]')).to_have_attribute(
        "aria-valuenow", percent, timeout=timeout
    )


def test_staff_logs_in_and_sees_the_dashboard(staff_page, screenshot):
    make_batch(orders=10, source_name="today.csv")

    staff_page.goto("/admin/")

    expect(staff_page.locator("#today-orders")).to_have_text("10")
    expect(staff_page.locator(".open-batches")).to_contain_text("today.csv")
    screenshot("dashboard")


def test_the_batch_page_moves_to_done_without_a_reload(staff_page, screenshot):
    batch = make_batch(orders=40, source_name="watch.csv")
    open_batch_page(staff_page, batch)
    expect(staff_page.locator('[data-progress="count_queued"]')).to_have_text("40")
    screenshot("queued")

    ids = list(batch.orders.values_list("pk", flat=True))
    Order.objects.filter(pk__in=ids[:30]).update(status=S.COMPLETED)
    Order.objects.filter(pk__in=ids[30:]).update(status=S.FAILED, last_error="<b>Bad</b>")
    Batch.objects.filter(pk=batch.pk).update(state=Batch.State.DONE)

    expect_final_bar(staff_page, "100")
    expect(staff_page.locator('[data-progress="count_completed"]')).to_have_text("30")
    expect(staff_page.locator("#batch-errors")).to_contain_text("<b>Bad</b>")  # as text
    expect(staff_page.locator('[data-progress="state"]')).to_have_text("Done")
    assert staff_page.evaluate("window.__notReloaded") is True
    screenshot("done")


def test_looking_up_many_imeis_lists_them_and_names_the_missing(staff_page, screenshot):
    batch = make_batch(orders=5)
    present = list(batch.orders.values_list("imei", flat=True))
    missing = valid_imei(999_999)
    staff_page.goto("/admin/orders/order/")

    staff_page.click("#imei-paste summary")
    staff_page.fill("#imei-paste-box", "\n".join(present[:3] + [missing]))
    staff_page.click("#imei-paste input[type=submit]")

    expect(staff_page.locator(".messagelist")).to_contain_text(
        f"1 IMEI has no order here: {missing}."
    )
    expect(staff_page.locator("#result_list tbody tr")).to_have_count(3)
    screenshot("found")


def test_an_import_with_a_bad_row_creates_nothing_then_the_fixed_file_does(staff_page, screenshot):
    make_service()
    good = [valid_imei(i) for i in range(1, 4)]

    upload(staff_page, good + [BAD_ROW])
    expect(staff_page.locator(".import-problems")).to_contain_text(BAD_ROW)
    screenshot("bad-row")
    assert Batch.objects.count() == 0

    upload(staff_page, good)
    expect(staff_page.locator("#summary-new")).to_contain_text("3 new orders")
    expect(staff_page.locator("#summary-cost")).to_contain_text("$0.24")
    screenshot("confirm")
    staff_page.click("input[name=confirm]")

    staff_page.wait_for_url("**/admin/orders/batch/*/change/")
    expect(staff_page.locator('[data-progress="total"]').first).to_have_text("3")
    screenshot("batch")
    assert Batch.objects.get().orders.count() == 3


@pytest.mark.cluster
def test_a_batch_runs_on_the_cluster_then_failed_orders_are_resubmitted_and_exported(
    staff_page, screenshot, qcluster, make_fake_provider
):
    make_service()
    fake = make_fake_provider(latency=0.1, jitter=0.02, complete_after=0.5, fail_rate=0.3)
    qcluster(fake, SUBMIT_MAX_ATTEMPTS=1, SUBMIT_CONCURRENCY=4)
    imeis = [valid_imei(i) for i in range(1, 31)]

    upload(staff_page, imeis)
    staff_page.click("input[name=confirm]")
    staff_page.wait_for_url("**/admin/orders/batch/*/change/")
    batch = Batch.objects.get()
    staff_page.evaluate("window.__notReloaded = true")
    screenshot("started")

    expect_final_bar(staff_page, "100", timeout=60_000)
    failed = batch.orders.filter(status=S.FAILED).count()
    assert failed > 0, "fail_rate 0.3 fails some of 30 orders on their only attempt"
    assert staff_page.evaluate("window.__notReloaded") is True
    screenshot("done-with-failures")

    fake.fail_rate = 0.0
    staff_page.goto(f"/admin/orders/order/?batch__id__exact={batch.pk}&status__exact=failed")
    staff_page.check("#action-toggle")
    staff_page.select_option("select[name=action]", "resubmit_failed")
    staff_page.click("button[name=index]")
    screenshot("resubmit-confirm")
    staff_page.click("input[type=submit]")
    expect(staff_page.locator(".messagelist")).to_contain_text(f"Re-submitted {failed} order")

    open_batch_page(staff_page, batch)
    wait_for(
        lambda: not batch.orders.filter(status__in=Order.OPEN_STATUSES + [S.FAILED]).exists(),
        60,
        "re-submitted orders complete",
    )
    expect_final_bar(staff_page, "100", timeout=30_000)
    expect(staff_page.locator('[data-progress="count_completed"]')).to_have_text("30")
    screenshot("all-completed")

    with staff_page.expect_download() as download:
        staff_page.click("a.export-link")
    rows = list(csv.reader(io.StringIO(open(download.value.path(), encoding="utf-8-sig").read())))
    assert len(rows) == 31 and rows[0][1] == "IMEI NO."


def test_an_orders_timeline_shows_provider_text_as_text(staff_page, screenshot):
    order = make_batch(orders=1).orders.get()
    order.status = S.SUBMITTING
    order.save(update_fields=["status"])
    order.mark_failed("<script>window.__xss = 1</script>", latency=15.2)
    staff_page.goto(f"/admin/orders/order/{order.pk}/change/")

    expect(staff_page.locator("pre.raw-answer")).to_have_text("<script>window.__xss = 1</script>")
    expect(staff_page.locator("td.field-latency").first).to_have_text("15.2 s")
    assert staff_page.evaluate("window.__xss") is None
    screenshot("timeline")
