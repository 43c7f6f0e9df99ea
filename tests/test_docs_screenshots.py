"""The README's screenshots (docs/screenshots/, 1400 px wide): the home page with an alert, a
batch page running, stopped and cancelled, and an import's bad-rows report.

Taken only on request, so the browser lane does not rewrite them:
`PORTAL_SCREENSHOTS=1 .venv/bin/pytest tests/test_docs_screenshots.py`.
"""

import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone
from playwright.sync_api import expect

from orders.models import Batch, Order
from submissions import controls
from tests.fixtures.factories import make_batch, make_service
from tests.fixtures.home import a_day_with_an_alert
from tests.fixtures.import_files import four_hundred_rows_with_120_bad
from tests.fixtures.pages import add_call_events, set_status

S = Order.Status
FOLDER = Path(settings.BASE_DIR) / "docs" / "screenshots"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.environ.get("PORTAL_SCREENSHOTS"), reason="PORTAL_SCREENSHOTS=1"),
]


@pytest.fixture
def shoot(staff_page, settings):
    settings.PAGE_REFRESH_SECONDS = 1
    FOLDER.mkdir(parents=True, exist_ok=True)

    def take(name):
        staff_page.screenshot(path=str(FOLDER / f"{name}.png"), full_page=True)

    return take


def a_running_batch():
    """400 orders, 2 minutes in: completed, awaiting results, in flight and queued."""
    now = timezone.now()
    batch = make_batch(orders=400, source_name="warehouse-intake-monday.csv",
                       started_at=now - timedelta(minutes=2))  # fmt: skip
    done = set_status(batch, S.COMPLETED, 150, submitted_at=now, finished_at=now, cost="0.08")
    set_status(batch, S.FAILED, 6, finished_at=now, last_error="permanent: Invalid IMEI")
    waiting = set_status(batch, S.PENDING, 60, submitted_at=now, cost="0.08")
    set_status(batch, S.SUBMITTING, 30)
    sent = done + waiting
    times = [now - timedelta(seconds=110 * (len(sent) - i) / len(sent)) for i in range(len(sent))]
    add_call_events(sent, [900 + (i * 37) % 700 for i in range(len(sent))], at=times)
    return batch


def test_home_page_with_an_alert(staff_page, staff_user, shoot):
    a_day_with_an_alert(staff_user)
    staff_page.goto("/admin/")
    staff_page.locator("#portal-alerts .alert-open").wait_for()
    shoot("home-with-alert")


def test_batch_page_running_then_stopped(staff_page, staff_user, shoot):
    batch = a_running_batch()
    staff_page.goto(f"/admin/orders/batch/{batch.pk}/change/")
    shoot("batch-running")

    controls.change(staff_user, sending_stopped=True)
    expect(staff_page.locator("#sending-banner")).to_be_visible(timeout=10_000)
    expect(staff_page.locator('[data-progress="state"]')).to_contain_text("sending stopped")
    shoot("batch-stopped")


def test_batch_page_cancelled(staff_page, staff_user, shoot):
    from submissions import services

    batch = a_running_batch()
    set_status(batch, S.PENDING, 0)
    services.cancel_batch(Batch.objects.get(pk=batch.pk), staff_user)
    Order.objects.filter(batch=batch, status=S.SUBMITTING).update(status=S.CANCELLED)
    staff_page.goto(f"/admin/orders/batch/{batch.pk}/change/")
    shoot("batch-cancelled")


def test_import_report(staff_page, shoot):
    make_service()
    staff_page.goto("/admin/orders/order/import/")
    staff_page.select_option("#id_service", "1739")
    staff_page.set_input_files(
        "#id_import_file",
        {"name": "warehouse-intake.csv", "mimeType": "text/csv",
         "buffer": four_hundred_rows_with_120_bad()},
    )  # fmt: skip
    staff_page.click("input[type=submit]")
    expect(staff_page.locator("#import-problems-title")).to_contain_text("120 of 400")
    shoot("import-report")
