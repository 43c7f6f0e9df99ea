"""Pausing, resuming and cancelling batches, and "Sync status now"."""

from django.urls import reverse

from orders.models import Batch, Order
from submissions import services
from tests.fixtures.factories import make_batch, make_order

CHANGELIST = "admin:orders_batch_changelist"


def post_action(client, action, batches, **extra):
    data = {"action": action, "_selected_action": [b.pk for b in batches], **extra}
    response = client.post(reverse(CHANGELIST), data)
    return response, [str(m) for m in response.wsgi_request._messages]


def test_pausing_stops_a_running_batch_and_says_how_many(db, staff_client):
    running, done = make_batch(), make_batch(state=Batch.State.DONE)

    _, messages = post_action(staff_client, "pause_batches", [running, done])

    assert messages == ["Paused 1 batch."]
    running.refresh_from_db()
    assert running.state == Batch.State.PAUSED
    assert running.note.startswith("Paused by staff at ")


def test_resuming_restarts_only_paused_batches_and_kicks_the_driver(
    db, staff_client, enqueued, django_capture_on_commit_callbacks
):
    paused, done = make_batch(state=Batch.State.PAUSED), make_batch(state=Batch.State.DONE)

    with django_capture_on_commit_callbacks(execute=True):
        _, messages = post_action(staff_client, "resume_batches", [paused, done])

    assert messages == ["Resumed 1 batch."]
    assert Batch.objects.get(pk=paused.pk).state == Batch.State.RUNNING
    assert Batch.objects.get(pk=done.pk).state == Batch.State.DONE
    assert enqueued == ["drive"]


def test_cancel_asks_first_with_the_queued_and_sent_counts(db, staff_client):
    batch = make_batch(orders=3)
    make_order(batch, status=Order.Status.PENDING, imei="350000000000001")

    response, _ = post_action(staff_client, "cancel_batches", [batch])

    assert response.templates[0].name == "admin/orders/cancel_confirmation.html"
    assert (response.context["queued_count"], response.context["sent_count"]) == (3, 1)
    assert Batch.objects.get().state == Batch.State.RUNNING


def test_cancelling_cancels_queued_orders_and_reports_those_already_sent(db, staff_client):
    batch = make_batch(orders=3)
    make_order(batch, status=Order.Status.SUBMITTING, imei="350000000000001")
    make_order(batch, status=Order.Status.COMPLETED, imei="350000000000002")

    _, messages = post_action(staff_client, "cancel_batches", [batch], post="yes")

    assert messages == [
        "Cancelled 1 batch and 3 queued orders; 2 orders had already been sent and cannot "
        "be called back."
    ]
    assert Batch.objects.get().state == Batch.State.CANCELLED
    assert batch.orders.filter(status=Order.Status.CANCELLED).count() == 3


def test_a_cancelled_batch_is_not_cancelled_twice(db, staff_user):
    batch = make_batch(state=Batch.State.CANCELLED)

    assert services.cancel_batch(batch, staff_user) == services.Cancelled(False, 0, 0)


def test_sync_now_makes_placed_orders_due_and_starts_a_poll(
    db, staff_client, enqueued, django_capture_on_commit_callbacks
):
    batch = make_batch()
    make_order(batch, status=Order.Status.PENDING, remote_id=1, imei="350000000000001")
    make_order(batch, status=Order.Status.COMPLETED, remote_id=2, imei="350000000000002")

    with django_capture_on_commit_callbacks(execute=True):
        _, messages = post_action(staff_client, "sync_status_now", [batch])

    assert messages == ["Asked the provider for the status of 1 order."]
    assert enqueued == ["sync"]


def test_batch_controls_need_the_cancel_batch_permission(db, client, django_user_model):
    from django.contrib.auth.models import Permission

    user = django_user_model.objects.create_user("viewer", password="x", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_batch"))
    client.force_login(user)
    make_batch()

    response = client.get(reverse(CHANGELIST))

    actions = {value for value, _ in response.context["action_form"].fields["action"].choices}
    assert {"pause_batches", "resume_batches", "cancel_batches"}.isdisjoint(actions)
