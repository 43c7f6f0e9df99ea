"""Four eyes in a real browser: the importer cannot approve, a second staff member can."""

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from orders.models import Batch
from tests.fixtures.browser import STAFF_PASSWORD
from tests.fixtures.browser_steps import upload
from tests.fixtures.factories import make_service, valid_imei

pytestmark = pytest.mark.browser


def log_in(page, username):
    page.goto("/admin/login/?next=/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", STAFF_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/")


def test_an_import_over_the_threshold_waits_and_only_another_user_approves_it(
    staff_page, browser, live_server, django_user_model, screenshot, settings
):
    settings.APPROVAL_THRESHOLD = Decimal("0.20")
    make_service()
    django_user_model.objects.create_superuser("second", "second@example.com", STAFF_PASSWORD)

    upload(staff_page, [valid_imei(i) for i in range(1, 4)])  # 3 x $0.08 = $0.24
    staff_page.click("input[name=confirm]")
    staff_page.wait_for_url("**/admin/orders/batch/*/change/")
    batch = Batch.objects.get()
    expect(staff_page.locator('[data-progress="state"]')).to_have_text("Awaiting approval")
    expect(staff_page.locator(".batch-note").first).to_contain_text("over the approval threshold")
    screenshot("awaiting")

    staff_page.click("button.control-approve_batches")
    expect(staff_page.locator(".messagelist")).to_contain_text(
        "You imported or re-submitted this batch: another staff member must approve it."
    )
    screenshot("self-approval-refused")
    batch.refresh_from_db()
    assert batch.state == Batch.State.AWAITING_APPROVAL

    second = browser.new_context(base_url=live_server.url).new_page()
    log_in(second, "second")
    second.goto(f"/admin/orders/batch/{batch.pk}/change/")
    second.click("button.control-approve_batches")
    expect(second.locator(".messagelist")).to_contain_text("Approved 1 batch.")
    expect(second.locator(".field-approval_display")).to_contain_text("Approved by second")
    expect(second.locator(".field-approval_display")).to_contain_text("requested by staff")
    batch.refresh_from_db()
    assert (batch.state, batch.approved_by.username) == (Batch.State.QUEUED, "second")
