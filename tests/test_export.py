"""The vendor-shaped "Advanced Export" CSV: the per-batch download and the changelist action."""

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission

from orders.models import Order
from tests.fixtures.exports import vendor_sample_order
from tests.fixtures.factories import make_batch, make_order, valid_imei

DATA = Path(__file__).parent / "data"
VENDOR_SAMPLE = (DATA / "vendor-advanced-export.csv").read_text(encoding="utf-8")


def rows_of(response):
    assert response.streaming
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff"), "a BOM, so Excel reads UTF-8"
    return list(csv.reader(io.StringIO(body[1:])))


def export_batch(client, batch):
    return client.get(f"/admin/orders/batch/{batch.pk}/export/")


def test_a_completed_order_exports_exactly_like_the_vendor_sample(staff_client):
    order = vendor_sample_order()

    response = export_batch(staff_client, order.batch)

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (
        f'attachment; filename="batch-{order.batch.pk}-advanced-export.csv"'
    )
    assert rows_of(response) == list(csv.reader(io.StringIO(VENDOR_SAMPLE)))


def test_the_header_is_the_vendors_in_its_order(staff_client):
    response = export_batch(staff_client, make_batch())

    with open(DATA / "vendor-advanced-export.csv", encoding="utf-8", newline="") as sample:
        vendor_header = next(csv.reader(sample))
    assert rows_of(response) == [vendor_header]


def test_orders_of_our_own_states_export_uncharged_with_their_notes(staff_client):
    batch = make_batch()
    make_order(
        batch,
        imei=valid_imei(1),
        status=Order.Status.FAILED,
        last_error="Gave up after 5 attempts: timeout",
    )
    make_order(
        batch,
        imei=valid_imei(2),
        status=Order.Status.IN_PROCESS,
        cost=Decimal("0.08"),
        submitted_at=datetime(2025, 11, 14, 3, 33, tzinfo=UTC),
    )

    rows = rows_of(export_batch(staff_client, batch))[1:]

    assert [row[1:5] + row[10:] for row in rows] == [
        [valid_imei(1), "$0.00", "Failed", "", "", "Gave up after 5 attempts: timeout"],
        [valid_imei(2), "$0.08", "In Process", "", "2025-11-14 3:33:00", ""],
    ]


def test_cells_that_a_spreadsheet_would_run_as_formulas_are_escaped(staff_client):
    order = make_order(
        carrier='=HYPERLINK("http://evil")',
        simlock="+1",
        model_name="@SUM(A1)",
        fmi="\tON",
        last_error="-2 rows",
        result_code="Model: =1+1",
    )

    row = rows_of(export_batch(staff_client, order.batch))[1]

    assert row[4:10] == [
        "Model: =1+1",
        "",
        '\'=HYPERLINK("http://evil")',
        "'+1",
        "'@SUM(A1)",
        "'\tON",
    ]
    assert row[11] == "'-2 rows"


def test_the_batch_page_links_to_its_export(staff_client):
    batch = make_batch()

    page = staff_client.get(f"/admin/orders/batch/{batch.pk}/change/").content.decode()

    assert f'href="/admin/orders/batch/{batch.pk}/export/"' in page


def test_the_export_action_streams_the_selected_orders(staff_client):
    batch = make_batch(orders=3)
    chosen = list(batch.orders.order_by("id")[:2])

    response = staff_client.post(
        "/admin/orders/order/",
        {"action": "export_selected_orders", "_selected_action": [o.pk for o in chosen]},
    )

    assert response["Content-Disposition"].startswith(
        'attachment; filename="orders-advanced-export-'
    )
    assert sorted(row[1] for row in rows_of(response)[1:]) == sorted(o.imei for o in chosen)


@pytest.mark.big
def test_20000_orders_stream_out(staff_client):
    batch = make_batch(orders=20_000)

    rows = rows_of(export_batch(staff_client, batch))

    assert len(rows) == 20_001


@pytest.fixture
def viewer_client(client, django_user_model):
    user = django_user_model.objects.create_user("viewer", password="viewer-pass-1", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=["view_order", "view_batch"]))
    client.force_login(user)
    return client, user


def test_without_the_export_permission_there_is_no_export(viewer_client):
    client, _ = viewer_client
    batch = make_batch(orders=1)

    assert export_batch(client, batch).status_code == 403
    assert "export_selected_orders" not in client.get("/admin/orders/order/").content.decode()


def test_the_export_permission_allows_both_exports(viewer_client):
    client, user = viewer_client
    user.user_permissions.add(Permission.objects.get(codename="export_order"))
    batch = make_batch(orders=1)

    assert export_batch(client, batch).status_code == 200
    assert "export_selected_orders" in client.get("/admin/orders/order/").content.decode()


def test_an_unknown_batch_is_404(staff_client):
    assert staff_client.get("/admin/orders/batch/999/export/").status_code == 404
    assert staff_client.get("/admin/orders/batch/nope/export/").status_code == 404
