"""A stop everybody sees: "Stop all sending" shows on every staff page
within seconds, without a reload, and the batch page stops counting its ETA."""

import pytest
from playwright.sync_api import expect

from orders.models import Batch
from portal.admin.batch_page import progress_display
from portal.admin.stats import batch_progress
from submissions import controls
from tests.fixtures.factories import make_batch

STOPPED_BY = "Sending is stopped for every batch (by staff at "


@pytest.fixture
def quick_pages(settings):
    settings.PAGE_REFRESH_SECONDS = 1


@pytest.mark.django_db
def test_the_batch_figures_say_sending_is_stopped_and_count_no_eta(staff_user):
    batch = make_batch(orders=5)
    controls.change(staff_user, sending_stopped=True)

    display = progress_display(batch_progress(batch))

    assert display["state"] == "Running, sending stopped"
    assert display["eta_send"] == display["eta_results"] == "none while sending is stopped"


@pytest.mark.django_db
def test_the_status_answer_names_who_stopped_sending(staff_client, staff_user):
    assert staff_client.get("/admin/sending.json").json() == {"stopped": False, "message": ""}
    controls.change(staff_user, sending_stopped=True)

    answer = staff_client.get("/admin/sending.json").json()

    assert answer["stopped"] is True
    assert answer["message"].startswith(STOPPED_BY)
    assert "turns it back on in Live controls" in answer["message"]


@pytest.mark.django_db
def test_the_status_answer_says_why_the_portal_paused_a_batch(staff_client, staff_user):
    make_batch(state=Batch.State.PAUSED, note="Paused by staff at 2026-12-05 08:00.")
    assert staff_client.get("/admin/sending.json").json()["stopped"] is False
    refused = "The provider refused our orders: “Insufficient credits”. Nothing was charged."
    make_batch(state=Batch.State.PAUSED, note=refused)

    answer = staff_client.get("/admin/sending.json").json()

    assert answer == {
        "stopped": True,
        "message": f"One batch is paused by the portal, not by an operator. {refused} "
        "Resume it once that is fixed.",
    }


@pytest.mark.browser
def test_an_open_batch_page_shows_the_stop_within_seconds(
    quick_pages, staff_page, staff_user, screenshot
):
    batch = make_batch(orders=5, source_name="good.csv")
    staff_page.goto(f"/admin/orders/batch/{batch.pk}/change/")
    expect(staff_page.locator('[data-progress="state"]')).to_have_text("Running")
    expect(staff_page.locator("#sending-banner")).to_be_hidden()

    controls.change(staff_user, sending_stopped=True)

    banner = staff_page.locator("#sending-banner")
    expect(banner).to_be_visible(timeout=10_000)
    expect(banner).to_contain_text(STOPPED_BY)
    expect(staff_page.locator('[data-progress="state"]')).to_have_text(
        "Running, sending stopped", timeout=10_000
    )
    expect(staff_page.locator('[data-progress="eta_send"]')).to_have_text(
        "none while sending is stopped"
    )
    screenshot("stopped")

    controls.change(staff_user, sending_stopped=False)
    expect(banner).to_be_hidden(timeout=10_000)


@pytest.mark.browser
def test_the_home_page_shows_the_stop_without_a_reload(quick_pages, staff_page, staff_user):
    expect(staff_page.locator("#sending-banner")).to_be_hidden()

    controls.change(staff_user, sending_stopped=True)

    expect(staff_page.locator("#sending-banner")).to_be_visible(timeout=10_000)
