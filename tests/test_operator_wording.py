"""Words for operators: every message says what happened and what to do in
the business's words; raw provider answers sit behind a "details" toggle; the task-queue admin
is shown to superusers only."""

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from orders.models import Order, OrderEvent
from portal.admin.wording import for_operator, with_details
from submissions import controls
from tests.fixtures.factories import make_order, make_service

pytestmark = pytest.mark.django_db
RAW = "<?phpxml version='1.0'?><error>Internal glitch</error>"


@pytest.fixture
def operator_client(django_user_model):
    """Staff with the everyday permissions, not a superuser (a client of its own)."""
    client = Client()
    user = django_user_model.objects.create_user("anna", password="anna-pass-123", is_staff=True)
    for codename in ("view_order", "import_order", "view_batch", "operate_sending"):
        user.user_permissions.add(Permission.objects.get(codename=codename))
    client.force_login(user)
    return client


def test_internal_notes_read_as_what_happened_and_what_to_do():
    handed_over = "Claimed ahead and not sent: the driver handed over; back in the queue."

    assert for_operator(handed_over) == (
        "Put back in the queue before it was sent (nothing sent, nothing charged). "
        "No action needed."
    )
    assert for_operator("permanent: Invalid IMEI") == "The provider refused the order: Invalid IMEI"
    assert for_operator("HTTP 502") == "HTTP 502"


def test_a_raw_provider_answer_goes_behind_details():
    shown = with_details(f"permanent: {RAW}")

    assert shown.startswith(
        "<span class='reason'>The provider refused the order: The provider answered in a form "
        "the portal could not read (see details).</span><details class='raw'><summary>details"
    )
    assert "&lt;?phpxml" in shown


def test_the_timeline_folds_a_raw_answer_under_plain_words(staff_client):
    order = make_order(status=Order.Status.FAILED, last_error="Internal glitch")
    OrderEvent.objects.create(order=order, from_status="submitting", to_status="failed", detail=RAW)

    html = staff_client.get(f"/admin/orders/order/{order.pk}/change/").content.decode()

    assert "<summary>The provider&#x27;s answer (details)</summary>" in html
    assert "<summary>&lt;?phpxml" not in html


def test_a_live_control_change_is_said_in_words(operator_client):
    response = operator_client.post(
        "/admin/submissions/control/1/change/",
        {"concurrency": "5", "rate_per_minute": ""},
        follow=True,
    )

    said = [str(m) for m in response.context["messages"]]
    assert said[0] == "Changed. Concurrency: the default → 5"
    assert controls.effective().concurrency == 5


def test_the_import_page_does_not_list_the_importers_fields(operator_client):
    make_service()

    html = operator_client.get("/admin/orders/order/import/").content.decode()

    assert "This importer will import the following fields" not in html


def test_the_task_queue_is_for_superusers_only(operator_client, staff_client):
    assert "Task queue" not in operator_client.get("/admin/").content.decode()
    assert operator_client.get("/admin/django_q/schedule/").status_code == 403
    assert "Task queue" in staff_client.get("/admin/").content.decode()
    assert staff_client.get("/admin/django_q/schedule/").status_code == 200
