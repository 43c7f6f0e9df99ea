"""Re-submitting failed orders: the use case and the admin action with its confirmation."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from orders.models import Batch, Order
from submissions import services
from tests.fixtures.factories import make_batch, make_order

CHANGELIST = "admin:orders_order_changelist"


@pytest.fixture
def orders(db):
    batch = make_batch(state=Batch.State.DONE)
    return {
        status: make_order(batch, status=status, imei=f"35000000000000{i}")
        for i, status in enumerate(
            [Order.Status.FAILED, Order.Status.UNKNOWN, Order.Status.COMPLETED]
        )
    }


def post_action(client, action, ids, **extra):
    data = {"action": action, "_selected_action": ids, **extra}
    return client.post(reverse(CHANGELIST), data)


def test_it_resubmits_only_failed_orders_and_reopens_their_done_batch(
    orders, staff_user, enqueued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        count = services.resubmit_failed(Order.objects.all(), staff_user)

    assert count == 1
    assert dict(Order.objects.values_list("status", "attempts")) == {
        Order.Status.QUEUED: 0,
        Order.Status.UNKNOWN: 0,
        Order.Status.COMPLETED: 0,
    }
    assert Batch.objects.get().state == Batch.State.RUNNING
    assert enqueued == ["drive"]


def test_unknown_orders_are_resubmitted_only_when_asked_and_flagged(orders, staff_user, enqueued):
    count = services.resubmit_failed(Order.objects.all(), staff_user, include_unknown=True)

    unknown = Order.objects.get(pk=orders[Order.Status.UNKNOWN].pk)
    assert (count, unknown.status, unknown.placed_without_id) == (2, Order.Status.QUEUED, True)
    assert unknown.events.last().detail == (
        "Re-submitted by an operator. The earlier send may have been placed; "
        "a duplicate answer will say so."
    )


def test_orders_of_a_cancelled_batch_are_not_resubmitted(db, staff_user, enqueued):
    order = make_order(make_batch(state=Batch.State.CANCELLED), status=Order.Status.FAILED)

    assert services.resubmit_failed(Order.objects.all(), staff_user) == 0
    order.refresh_from_db()
    assert order.status == Order.Status.FAILED


def test_the_action_asks_first_showing_count_cost_and_the_unknown_choice(orders, staff_client):
    ids = [o.pk for o in orders.values()]

    response = post_action(staff_client, "resubmit_failed", ids)

    assert response.status_code == 200
    assert response.templates[0].name == "admin/orders/resubmit_confirmation.html"
    assert (response.context["failed_count"], response.context["failed_cost"]) == (
        1,
        Decimal("0.08"),
    )
    assert response.context["unknown_count"] == 1
    assert b'name="include_unknown"' in response.content
    assert b"may already be placed and charged" in response.content
    assert Order.objects.filter(status=Order.Status.QUEUED).count() == 0


def test_confirming_resubmits_and_says_how_many(orders, staff_client, enqueued):
    ids = [o.pk for o in orders.values()]

    response = post_action(staff_client, "resubmit_failed", ids, post="yes", include_unknown="on")

    assert response.status_code == 302
    messages = [str(m) for m in response.wsgi_request._messages]
    assert messages == ["Re-submitted 2 orders."]
    assert Order.objects.filter(status=Order.Status.QUEUED).count() == 2


def test_the_batch_action_resubmits_the_failed_orders_of_the_selected_batches(
    orders, staff_client, enqueued
):
    batch = Batch.objects.get()

    response = staff_client.post(
        reverse("admin:orders_batch_changelist"),
        {"action": "resubmit_failed", "_selected_action": [batch.pk], "post": "yes"},
    )

    assert [str(m) for m in response.wsgi_request._messages] == ["Re-submitted 1 order."]


def test_staff_without_the_resubmit_permission_do_not_get_the_action(
    orders, client, django_user_model
):
    user = django_user_model.objects.create_user("viewer", password="x", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_order"))
    client.force_login(user)

    response = client.get(reverse(CHANGELIST))

    actions = [value for value, _ in response.context["action_form"].fields["action"].choices]
    assert "resubmit_failed" not in actions
    assert "sync_status_now" in actions
