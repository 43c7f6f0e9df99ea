"""The import's report and its way back: bad rows summed up at the
top with the file still named; no service chosen for the operator; "Change" on the confirm page
keeps the file; the cost is the largest text on the confirm page."""

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from orders.models import Batch
from tests.fixtures.factories import make_batch, make_service, valid_imei
from tests.fixtures.import_files import four_hundred_rows_with_120_bad
from tests.fixtures.imports import CONFIRM_URL, IMPORT_URL, confirm, csv_of, upload

UNLOCK = {"id": 2, "title": "AT&T unlock clean", "price": Decimal("25.00")}


@pytest.mark.django_db
def test_change_brings_back_the_form_with_the_file_kept_and_the_service_chosen(staff_client):
    checker, unlock = make_service(), make_service(**UNLOCK)
    checked = upload(staff_client, csv_of([valid_imei(1), valid_imei(2)]), unlock, "good.csv")

    form_page = staff_client.get(checked.context["change_url"])

    assert form_page.context["form"]["service"].value() == str(unlock.pk)
    assert form_page.context["kept_name"] == "good.csv"
    assert 'Checked: <strong class="kept-name">good.csv</strong>, kept.' in form_page.text
    kept = form_page.context["kept_file"]
    again = staff_client.post(IMPORT_URL, {"service": checker.pk, "kept_file": kept})
    assert again.context["result"].plan.file_name == "good.csv"
    assert again.context["result"].plan.cost == Decimal("0.16")
    confirm(staff_client, again)
    assert Batch.objects.get().service == checker


@pytest.mark.django_db
def test_the_page_left_by_change_can_no_longer_create_a_batch(staff_client):
    unlock = make_service(**UNLOCK)
    checked = upload(staff_client, csv_of([valid_imei(1)]), unlock, "good.csv")
    form_page = staff_client.get(checked.context["change_url"])
    staff_client.post(
        IMPORT_URL, {"service": unlock.pk, "kept_file": form_page.context["kept_file"]}
    )

    old = checked.context["confirm_form"]
    staff_client.post(CONFIRM_URL, {field.name: field.value() for field in old})

    assert Batch.objects.count() == 0


@pytest.mark.django_db
def test_a_kept_file_used_twice_is_asked_for_again(staff_client):
    unlock = make_service(**UNLOCK)
    checked = upload(staff_client, csv_of([valid_imei(1)]), unlock, "good.csv")
    kept = checked.context["kept_file"]
    staff_client.post(IMPORT_URL, {"service": unlock.pk, "kept_file": kept})

    again = staff_client.post(IMPORT_URL, {"service": unlock.pk, "kept_file": kept})

    assert again.context["form"].non_field_errors() == [
        "The file checked before is no longer kept (it was used or has expired). Choose it again."
    ]


@pytest.mark.django_db
def test_the_form_chooses_no_service_after_the_last_batch(staff_client):
    make_batch(service=make_service(**UNLOCK))

    page = staff_client.get(IMPORT_URL)

    assert page.context["form"]["service"].value() is None
    assert "selected" not in page.context["form"]["service"].as_widget().replace("selected>-", "")


def in_view(page, selector):
    box = page.locator(selector).bounding_box()
    return box is not None and box["y"] + box["height"] <= page.viewport_size["height"]


@pytest.mark.browser
def test_120_bad_rows_of_400_are_summed_up_at_the_top_with_the_file_named(staff_page, screenshot):
    make_service()
    staff_page.goto(IMPORT_URL)
    staff_page.select_option("#id_service", "1739")
    staff_page.set_input_files(
        "#id_import_file",
        {"name": "good.csv", "mimeType": "text/csv", "buffer": four_hundred_rows_with_120_bad()},
    )
    staff_page.click("input[type=submit]")

    expect(staff_page.locator("#import-problems-title")).to_have_text(
        "Nothing was imported: 120 of 400 rows are wrong"
    )
    for selector in ("#import-problems-title", "#import-kinds", "#bad-rows-download"):
        assert in_view(staff_page, selector), f"{selector} is below the fold"
    expect(staff_page.locator("#import-kinds li")).to_have_count(3)
    expect(staff_page.locator(".import-first li")).to_have_count(5)
    expect(staff_page.locator("#bad-rows-download")).to_have_text(
        "Download all 120 wrong rows (CSV)"
    )
    expect(staff_page.locator("#kept-file")).to_contain_text("Checked: good.csv, kept.")
    screenshot("import-report")

    staff_page.click("text=Check the file")  # the kept file, as it is
    expect(staff_page.locator("#import-problems-title")).to_contain_text("120 of 400 rows")


@pytest.mark.browser
def test_the_confirm_page_shows_the_cost_largest_and_change_keeps_the_file(staff_page, screenshot):
    make_service()
    make_service(**UNLOCK)
    staff_page.goto(IMPORT_URL)
    expect(staff_page.locator("#id_service")).to_have_value("")
    staff_page.select_option("#id_service", "2")
    staff_page.set_input_files(
        "#id_import_file",
        {"name": "good.csv", "mimeType": "text/csv", "buffer": csv_of([valid_imei(1)])},
    )
    staff_page.click("input[type=submit]")
    expect(staff_page.locator("#summary-cost")).to_contain_text("$25.00")
    largest = staff_page.evaluate(
        """() => {
            let best = null, size = 0;
            for (const el of document.querySelectorAll('body *')) {
                const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
                const px = parseFloat(getComputedStyle(el).fontSize);
                if (own && el.offsetParent !== null && px > size) { best = el; size = px; }
            }
            return best.closest('#summary-cost') !== null;
        }"""
    )
    assert largest, "the cost is the largest text on the page"
    screenshot("confirm")

    staff_page.click("#import-change")
    expect(staff_page.locator("#id_service")).to_have_value("2")
    expect(staff_page.locator("#kept-file")).to_contain_text("good.csv")
    staff_page.select_option("#id_service", "1739")
    staff_page.click("input[type=submit]")
    expect(staff_page.locator("#summary-cost")).to_contain_text("$0.08")
    staff_page.click("input[name=confirm]")
    staff_page.wait_for_url("**/admin/orders/batch/*/change/")
    assert Batch.objects.get().service_id == 1739
