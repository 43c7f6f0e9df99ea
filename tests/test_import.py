"""The batch import on the Order admin: upload -> summary -> confirm -> one queued batch."""

from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages

from orders.models import Batch, Order
from submissions import services as submission_services
from tests.fixtures.factories import make_batch, make_order, make_service, valid_imei
from tests.fixtures.imports import (
    CONFIRM_URL,
    IMPORT_URL,
    confirm,
    csv_of,
    problems,
    upload,
)

DATA = Path(__file__).parent / "data"


@pytest.fixture
def batch_created_calls(monkeypatch):
    """What submissions.services.batch_created saw: the batch and its order count then."""
    calls = []
    monkeypatch.setattr(
        submission_services,
        "batch_created",
        lambda batch, *args: calls.append((batch.pk, batch.orders.count())),
    )
    return calls


def summary(response):
    return response.content.decode()


def test_it_shows_a_summary_then_creates_one_queued_batch(
    staff_client, staff_user, service, batch_created_calls
):
    imeis = [valid_imei(n) for n in range(3)]
    response = upload(staff_client, csv_of([*imeis, imeis[0]]), service, name="monday.csv")

    page = summary(response)
    assert "File: monday.csv" in page
    assert "Service: Apple iPhone IMEI Carrier + Simlock + FMI ($0.08, Instant-5 Minutes)" in page
    assert "3 new orders" in page
    assert "1 duplicate row dropped" in page
    assert "0 already ordered for this service, skipped" in page
    assert "Cost: 3 × $0.08 = $0.24" in page
    assert Batch.objects.count() == 0

    response = confirm(staff_client, response)

    batch = Batch.objects.get()
    assert response.status_code == 302
    assert response.url == f"/admin/orders/batch/{batch.pk}/change/"
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        f"Batch {batch.pk} created: 3 orders queued (cost $0.24)"
    ]
    assert (batch.service, batch.created_by, batch.source_name) == (
        service,
        staff_user,
        "monday.csv",
    )
    assert batch.state == Batch.State.QUEUED
    orders = batch.orders.order_by("id")
    assert [o.imei for o in orders] == imeis
    assert {(o.status, o.service_id) for o in orders} == {(Order.Status.QUEUED, service.pk)}
    assert batch_created_calls == [(batch.pk, 3)]


def test_the_upload_form_lists_active_services_with_price_and_delivery_time(staff_client):
    make_service()
    make_service(id=2001, title="T-Mobile unlock", price=Decimal("110.00"), delivery_time="")
    make_service(id=2002, title="Retired checker", active=False)

    page = staff_client.get(IMPORT_URL).content.decode()

    assert "$0.08 · Instant-5 Minutes · Apple iPhone IMEI Carrier + Simlock + FMI" in page
    assert "$110.00 · time unknown · T-Mobile unlock" in page
    assert "Retired checker" not in page
    assert "Check again" in page


def test_the_order_list_offers_the_import(staff_client):
    assert IMPORT_URL in staff_client.get("/admin/orders/order/").content.decode()


def test_it_says_which_staff_sample_rows_fail_the_check_digit(staff_client, service):
    content = (DATA / "staff-sample-imeis.csv").read_bytes()

    response = upload(staff_client, content, service)

    assert problems(response) == [
        'Row 2: "353370080089458" fails the IMEI check digit (Luhn): expected check digit 1, not 8',
        'Row 3: "111199122222005" fails the IMEI check digit (Luhn): expected check digit 9, not 5',
        'Row 4: "353370080089459" fails the IMEI check digit (Luhn): expected check digit 1, not 9',
    ]
    assert "Nothing was imported" in summary(response)
    assert "confirm_form" not in response.context
    assert (Batch.objects.count(), Order.objects.count()) == (0, 0)


def test_it_imports_the_vendor_export_by_its_imei_no_column(staff_client, service):
    content = (DATA / "vendor-advanced-export.csv").read_bytes()

    response = confirm(staff_client, upload(staff_client, content, service))

    assert response.status_code == 302
    assert list(Order.objects.values_list("imei", flat=True)) == ["353979106673567"]


def test_already_ordered_imeis_are_skipped_and_listed(staff_client, service):
    old = make_batch(service=service)
    make_order(old, imei=valid_imei(1), status=Order.Status.COMPLETED)
    make_order(old, imei=valid_imei(2), status=Order.Status.FAILED)  # never reached them
    make_order(old, imei=valid_imei(3), status=Order.Status.CANCELLED)
    imeis = [valid_imei(n) for n in range(1, 5)]

    response = upload(staff_client, csv_of(imeis), service)

    page = summary(response)
    assert "3 new orders" in page
    assert f"1 already ordered for this service, skipped: {valid_imei(1)}" in page
    confirm(staff_client, response)
    batch = Batch.objects.exclude(pk=old.pk).get()
    assert sorted(batch.orders.values_list("imei", flat=True)) == imeis[1:]


def test_check_again_sends_already_ordered_imeis_again(staff_client, service):
    make_order(make_batch(service=service), imei=valid_imei(1), status=Order.Status.COMPLETED)
    other_service = make_service(id=2001, title="Other checker")
    make_order(make_batch(service=other_service), imei=valid_imei(2))

    response = upload(
        staff_client, csv_of([valid_imei(1), valid_imei(2)]), service, check_again=True
    )

    page = summary(response)
    assert "2 new orders" in page
    assert "1 already ordered for this service, included (Check again)" in page
    response = confirm(staff_client, response)
    batch = Batch.objects.get(pk=response.url.split("/")[-3])
    assert batch.orders.count() == 2


def test_a_file_of_only_already_ordered_imeis_offers_nothing_to_confirm(staff_client, service):
    make_order(make_batch(service=service), imei=valid_imei(1))

    response = upload(staff_client, csv_of([valid_imei(1)]), service)

    assert problems(response) == [
        "Nothing to order: all 1 IMEIs of the file were already ordered for "
        "Apple iPhone IMEI Carrier + Simlock + FMI. Tick “Check again” to send them again."
    ]
    assert "confirm_form" not in response.context


def test_a_second_confirm_of_the_same_upload_creates_nothing(staff_client, service):
    response = upload(staff_client, csv_of([valid_imei(1)]), service)
    confirm(staff_client, response)

    again = confirm(staff_client, response)

    assert again.status_code == 302
    assert again.url == IMPORT_URL
    assert Batch.objects.count() == 1
    assert "already confirmed or has expired" in str(list(get_messages(again.wsgi_request))[-1])


@pytest.mark.big
def test_20000_rows_make_one_batch_of_20000_orders(staff_client, service):
    imeis = [valid_imei(n) for n in range(20_000)]

    response = upload(staff_client, csv_of(imeis), service)
    assert "Cost: 20,000 × $0.08 = $1,600.00" in summary(response)
    response = confirm(staff_client, response)

    batch = Batch.objects.get()
    assert batch.orders.count() == 20_000
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        f"Batch {batch.pk} created: 20,000 orders queued (cost $1,600.00)"
    ]


@pytest.fixture
def clerk_client(client, django_user_model):
    """A staff user who may see orders but not import them."""
    user = django_user_model.objects.create_user("clerk", password="clerk-pass-123", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_order"))
    client.force_login(user)
    return client, user


def test_a_user_without_the_import_permission_gets_403(clerk_client, service):
    client, _ = clerk_client

    assert client.get(IMPORT_URL).status_code == 403
    assert upload(client, csv_of([valid_imei(1)]), service).status_code == 403
    assert client.post(CONFIRM_URL, {}).status_code == 403
    assert IMPORT_URL not in client.get("/admin/orders/order/").content.decode()


def test_the_import_permission_alone_is_enough_to_import(clerk_client, service):
    client, user = clerk_client
    user.user_permissions.add(Permission.objects.get(codename="import_order"))

    response = confirm(client, upload(client, csv_of([valid_imei(1)]), service))

    assert response.status_code == 302
    assert Batch.objects.get().created_by == user


def test_the_upload_form_chooses_no_service_even_after_an_expensive_batch(staff_client):
    make_service(id=1, title="Cheap checker")
    last = make_service(id=2, title="AT&T unlock", price=Decimal("25.00"))
    make_batch(service=last)

    form = staff_client.get("/admin/orders/order/import/").context["form"]

    assert form["service"].value() is None
