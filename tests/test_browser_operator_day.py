"""The operator's day in a real browser, at 1400x1000 and at 1280x800.

Playwright drives Debian's Chromium (tests/fixtures/browser.py); each step leaves a screenshot
under artifacts/, named with the test and the viewport.
"""

import io
from datetime import timedelta

import openpyxl
import pytest
from django.utils import timezone
from playwright.sync_api import expect

from orders.models import Batch, Order
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


def test_the_order_list_shows_each_orders_results_in_full(staff_page, screenshot):
    completed_orders(20)

    staff_page.goto("/admin/orders/order/")

    rows = staff_page.locator("#result_list tbody tr")
    expect(rows).to_have_count(20)
    screenshot("order-list")
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
        "Apple iPhone IMEI Carrier + Simlock + FMI + WW + Activation Etc Hot Exclusive Checker"
    )
    expect(staff_page.locator("td.field-model_display").first).to_have_text(
        "iPhone 14 Pro Max Deep Purple 256GB"
    )


def test_a_batch_is_paused_resumed_and_cancelled_from_its_own_page(staff_page, screenshot):
    batch = make_batch(orders=5, source_name="good.csv")
    staff_page.goto(f"/admin/orders/batch/{batch.pk}/change/")
    expect(staff_page.locator("h1")).to_have_text(f"Batch {batch.pk} - good.csv")
    expect(staff_page.locator("#batch-controls button")).to_have_text(["Pause", "Cancel…"])
    assert no_horizontal_scroll(staff_page)
    screenshot("running")

    staff_page.click("button.control-pause_batches")
    expect(staff_page.locator(".messagelist")).to_contain_text("Paused 1 batch.")
    expect(staff_page.locator("#batch-controls button")).to_have_text(["Resume", "Cancel…"])
    screenshot("paused")

    staff_page.click("button.control-resume_batches")
    expect(staff_page.locator(".messagelist")).to_contain_text("Resumed 1 batch.")
    staff_page.click("button.control-cancel_batches")
    expect(staff_page.locator("#content")).to_contain_text("5 queued orders will not be sent")
    screenshot("cancel-confirmation")
    staff_page.click("input[type=submit]")

    staff_page.wait_for_url(f"**/admin/orders/batch/{batch.pk}/change/")
    expect(staff_page.locator(".messagelist")).to_contain_text("Cancelled 1 batch")
    expect(staff_page.locator("#batch-controls")).to_have_count(0)
    assert Batch.objects.get().state == Batch.State.CANCELLED
    screenshot("cancelled")


def test_four_pasted_imeis_become_a_confirmed_batch(staff_page, screenshot):
    make_service(title=LONG_TITLE)
    imeis = [valid_imei(n) for n in range(1, 5)]
    staff_page.goto("/admin/orders/order/import/")
    staff_page.fill("input.service-search", "hot exclusive")
    expect(staff_page.locator("#id_service")).to_have_value("1739")
    staff_page.fill("#id_imei_text", f"{imeis[0]}\n{imeis[1]}, {imeis[2]}\t{imeis[3]}")
    assert no_horizontal_scroll(staff_page)
    screenshot("paste")
    staff_page.click("input[type=submit]")

    expect(staff_page.locator("#summary-new")).to_contain_text("4 new orders")
    expect(staff_page.locator("#summary-file")).to_contain_text("pasted ")
    screenshot("confirm")
    staff_page.click("input[name=confirm]")

    staff_page.wait_for_url("**/admin/orders/batch/*/change/")
    batch = Batch.objects.get()
    assert sorted(batch.orders.values_list("imei", flat=True)) == imeis
    expect(staff_page.locator("h1")).to_contain_text(f"Batch {batch.pk} - pasted ")
    screenshot("batch")


def test_a_file_with_three_bad_rows_becomes_a_997_order_batch_naming_them(staff_page, screenshot):
    make_service()
    imeis = [valid_imei(n) for n in range(1000)]
    imeis[5], imeis[500], imeis[998] = "353370080089458", "35A213021989030", "3521302198903"
    staff_page.goto("/admin/orders/order/import/")
    staff_page.select_option("#id_service", "1739")
    staff_page.set_input_files(
        "#id_import_file",
        {
            "name": "good.csv",
            "mimeType": "text/csv",
            "buffer": ("IMEI\n" + "\n".join(imeis)).encode(),
        },
    )
    staff_page.click("input[type=submit]")

    expect(staff_page.locator("#import-problems-title")).to_contain_text("3 of 1,000 rows")
    expect(staff_page.locator(".import-problems")).to_contain_text("expected check digit 1")
    with staff_page.expect_download() as download:
        staff_page.click("#bad-rows-download")
    assert open(download.value.path(), encoding="utf-8-sig").read().count("\n") == 4
    assert Batch.objects.count() == 0
    screenshot("bad-rows")
    staff_page.click("input[name=confirm_valid_rows]")

    staff_page.wait_for_url("**/admin/orders/batch/*/change/")
    batch = Batch.objects.get()
    assert batch.orders.count() == 997
    assert 'row 7 "353370080089458"' in batch.note and 'row 1000 "3521302198903"' in batch.note
    screenshot("batch")


def test_an_order_list_of_the_last_7_days_downloads_as_xlsx(staff_page, screenshot):
    completed_orders(3)
    old = make_order(imei=valid_imei(99))
    Order.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=30))
    staff_page.goto("/admin/orders/order/")

    staff_page.click("#changelist-filter a:text('Past 7 days')")
    expect(staff_page.locator("#result_list tbody tr")).to_have_count(3)
    screenshot("last-7-days")
    with staff_page.expect_download() as download:
        staff_page.click("#export-xlsx")

    assert download.value.suggested_filename.endswith(".xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(download.value.path().read_bytes())).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:4] == ("SERVICE", "IMEI NO.", "CREDITS", "STATUS")
    assert sorted(r[1] for r in rows[1:]) == sorted(valid_imei(n) for n in range(3))


def test_the_order_page_shows_results_and_folds_the_raw_answer(staff_page, screenshot):
    batch = completed_orders(1)
    order = batch.orders.get()
    Order.objects.filter(pk=order.pk).update(
        result_code="Model: iPhone 14<br>Carrier: Sprint/T-Mobile",
        result_text="Model: iPhone 14\nCarrier: Sprint/T-Mobile",
    )
    staff_page.goto(f"/admin/orders/order/{order.pk}/change/")

    expect(staff_page.locator("h1")).to_have_text(f"Order {order.imei} · Completed")
    expect(staff_page.locator("pre.raw-answer")).not_to_be_visible()
    expect(staff_page.locator("input[name=_save]")).to_have_count(0)
    expect(staff_page.locator(".field-carrier")).to_contain_text("Sprint/T-Mobile")
    screenshot("order")
    staff_page.click("details.raw summary")
    expect(staff_page.locator("pre.raw-answer")).to_be_visible()
    screenshot("raw-open")


def test_the_admin_index_has_an_import_button(staff_page, screenshot):
    make_service()
    staff_page.goto("/admin/")

    staff_page.click("#index-import")

    staff_page.wait_for_url("**/admin/orders/order/import/")
    expect(staff_page.locator("h1")).to_have_text("Import a batch")
    assert no_horizontal_scroll(staff_page)
    screenshot("import-page")
