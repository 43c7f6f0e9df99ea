"""The batch page's buttons: pause, resume, cancel, re-submit and sync for that one batch."""

from decimal import Decimal

from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages

from orders.models import Batch, Order
from tests.fixtures.factories import make_batch, make_order, valid_imei

S = Order.Status


def page(client, batch):
    return client.get(f"/admin/orders/batch/{batch.pk}/change/")


def controls(client, batch):
    return [action for action, _, _ in page(client, batch).context["batch_controls"]]


def press(client, batch, action, **data):
    response = client.post(f"/admin/orders/batch/{batch.pk}/do/{action}/", data)
    return response, [str(m) for m in get_messages(response.wsgi_request)]


def test_a_running_batch_offers_pause_and_cancel_only(staff_client):
    batch = make_batch(orders=2)

    assert controls(staff_client, batch) == ["pause_batches", "cancel_batches"]


def test_a_paused_batch_with_failed_and_pending_orders_offers_what_applies(staff_client):
    batch = make_batch(state=Batch.State.PAUSED)
    make_order(batch, S.FAILED, imei=valid_imei(1))
    make_order(batch, S.PENDING, imei=valid_imei(2), remote_id=1)

    assert controls(staff_client, batch) == [
        "resume_batches",
        "cancel_batches",
        "resubmit_failed",
        "sync_status_now",
    ]


def test_a_done_batch_without_problems_offers_no_button(staff_client):
    batch = make_batch(state=Batch.State.DONE)
    make_order(batch, S.COMPLETED, imei=valid_imei(1))

    assert controls(staff_client, batch) == []
    assert 'id="batch-controls"' not in page(staff_client, batch).content.decode()


def test_pause_then_resume_from_the_batch_page_come_back_to_it(staff_client, enqueued):
    batch = make_batch(orders=2)

    response, messages = press(staff_client, batch, "pause_batches")

    assert (response.status_code, response.url) == (302, f"/admin/orders/batch/{batch.pk}/change/")
    assert messages == ["Paused 1 batch."]
    assert Batch.objects.get().state == Batch.State.PAUSED
    _, messages = press(staff_client, batch, "resume_batches")
    assert messages[-1] == "Resumed 1 batch."
    assert Batch.objects.get().state == Batch.State.RUNNING


def test_cancel_from_the_batch_page_asks_first_then_cancels(staff_client):
    batch = make_batch(orders=3)

    response, _ = press(staff_client, batch, "cancel_batches")

    assert response.templates[0].name == "admin/orders/cancel_confirmation.html"
    assert Batch.objects.get().state == Batch.State.RUNNING
    response, messages = press(staff_client, batch, "cancel_batches", post="yes")
    assert response.url == f"/admin/orders/batch/{batch.pk}/change/"
    assert messages == [
        "Cancelled 1 batch and 3 queued orders; 0 orders had already been sent and cannot "
        "be called back."
    ]
    assert Batch.objects.get().state == Batch.State.CANCELLED


def test_resubmit_from_the_batch_page_shows_the_same_confirmation(staff_client, enqueued):
    batch = make_batch(state=Batch.State.DONE)
    make_order(batch, S.FAILED, imei=valid_imei(1))

    response, _ = press(staff_client, batch, "resubmit_failed")

    assert response.templates[0].name == "admin/orders/resubmit_confirmation.html"
    assert (response.context["failed_count"], response.context["failed_cost"]) == (
        1,
        Decimal("0.08"),
    )
    assert "up to <strong>$0.08</strong>" in response.content.decode()
    _, messages = press(staff_client, batch, "resubmit_failed", post="yes")
    assert messages == ["Re-submitted 1 order."]
    assert Order.objects.get().status == S.QUEUED


def test_a_resubmit_with_nothing_to_resubmit_says_so_instead_of_asking(staff_client):
    batch = make_batch(state=Batch.State.DONE)
    make_order(batch, S.COMPLETED, imei=valid_imei(1))

    response, messages = press(staff_client, batch, "resubmit_failed")

    assert response.status_code == 302
    assert messages == [
        "Nothing to re-submit: no failed or unknown-outcome orders among the selected ones."
    ]


def test_the_buttons_need_the_actions_permissions(client, django_user_model):
    user = django_user_model.objects.create_user("viewer", password="x", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_batch"))
    client.force_login(user)
    batch = make_batch(orders=1)

    assert controls(client, batch) == []
    response, _ = press(client, batch, "pause_batches")
    assert response.status_code == 403
    assert Batch.objects.get().state == Batch.State.RUNNING


def test_the_batch_page_is_titled_with_its_number_and_file(staff_client):
    batch = make_batch(source_name="good.csv")

    assert page(staff_client, batch).context["title"] == f"Batch {batch.pk} - good.csv"
