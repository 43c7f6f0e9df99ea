"""The batch priority: set on the batch page, kept by pause, resume and re-submit."""

from orders.models import Batch, Order
from submissions import services
from tests.fixtures.factories import make_batch, make_order


def priority_url(batch):
    return f"/admin/orders/batch/{batch.pk}/priority/"


def test_an_operator_sets_a_batchs_priority_from_its_page(staff_client, service):
    batch = make_batch(orders=1)

    page = staff_client.get(f"/admin/orders/batch/{batch.pk}/change/").content.decode()
    response = staff_client.post(priority_url(batch), {"priority": "high"}, follow=True)

    assert 'id="priority-select"' in page
    batch.refresh_from_db()
    assert batch.priority == "high"
    assert [str(m) for m in response.context["messages"]] == [f"Priority of {batch} set to high."]


def test_an_urgent_batchs_priority_cannot_be_changed(staff_client, service):
    batch = make_batch(orders=1, priority=Batch.Priority.URGENT)

    page = staff_client.get(f"/admin/orders/batch/{batch.pk}/change/").content.decode()
    staff_client.post(priority_url(batch), {"priority": "low"})
    staff_client.post(priority_url(make_batch()), {"priority": "urgent"})

    assert 'id="priority-select"' not in page and 'id="batch-urgent"' in page
    assert list(Batch.objects.values_list("priority", flat=True).order_by("id")) == [
        "urgent",
        "normal",
    ]


def test_setting_the_priority_needs_the_batch_control_permission(client, django_user_model):
    user = django_user_model.objects.create_user("viewer", password="pw", is_staff=True)
    client.force_login(user)
    batch = make_batch(orders=1)

    assert client.post(priority_url(batch), {"priority": "high"}).status_code == 403


def test_a_resubmit_keeps_the_batchs_priority(db, staff_user, enqueued):
    batch = make_batch(orders=0, priority=Batch.Priority.LOW, state=Batch.State.DONE)
    make_order(batch, status=Order.Status.FAILED)

    services.resubmit_failed(batch.orders.all(), staff_user)

    batch.refresh_from_db()
    assert (batch.state, batch.priority) == ("running", "low")


def test_pause_and_resume_keep_the_batchs_priority(db, staff_user, enqueued):
    batch = make_batch(orders=1, priority=Batch.Priority.HIGH)

    services.pause_batch(batch, staff_user)
    services.resume_batch(batch, staff_user)

    batch.refresh_from_db()
    assert (batch.state, batch.priority) == ("running", "high")
