"""Finding orders: the date filter, the export of any filtered list, the many-IMEIs box, and
the order page an operator reads."""

import csv
import io
from datetime import datetime, timedelta
from pathlib import Path

import openpyxl
import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from orders.models import Batch, Order
from tests.fixtures.exports import vendor_sample_order
from tests.fixtures.factories import make_batch, make_order, make_service, valid_imei

S = Order.Status
LIST = "/admin/orders/order/"
DATA = Path(__file__).parent / "data"


def result_imeis(response):
    return [o.imei for o in response.context["cl"].result_list]


def messages_of(response):
    return [str(m) for m in response.context["messages"]]


def aged(days, n):
    """An order created `days` ago."""
    return make_order(
        make_batch(), imei=valid_imei(n), created_at=timezone.now() - timedelta(days=days)
    )


@pytest.fixture
def spread(db):
    """Orders of today, 3 days ago and 40 days ago: IMEIs 1, 2 and 3."""
    return [aged(0, 1), aged(3, 2), aged(40, 3)]


def local_day(days_ago):
    return (timezone.localtime() - timedelta(days=days_ago)).date().isoformat()


def test_the_date_filter_offers_today_past_7_days_and_this_month(staff_client, spread):
    response = staff_client.get(LIST)

    spec = next(s for s in response.context["cl"].filter_specs if s.field_path == "created_at")
    links = {c["display"]: c["query_string"] for c in spec.choices(response.context["cl"])}
    assert list(links)[:4] == ["Any date", "Today", "Past 7 days", "This month"]
    assert result_imeis(staff_client.get(LIST + links["Today"])) == [valid_imei(1)]
    assert result_imeis(staff_client.get(LIST + links["Past 7 days"])) == [
        valid_imei(2),
        valid_imei(1),
    ]


def test_a_custom_date_range_includes_both_days(staff_client, spread):
    query = f"?created_at__from={local_day(5)}&created_at__to={local_day(3)}"

    assert result_imeis(staff_client.get(LIST + query)) == [valid_imei(2)]
    assert result_imeis(staff_client.get(LIST + f"?created_at__to={local_day(30)}")) == [
        valid_imei(3)
    ]


def test_a_date_that_is_no_date_is_a_bad_lookup_not_an_error(staff_client, spread):
    response = staff_client.get(LIST + "?created_at__from=yesterday")

    assert (response.status_code, response["Location"]) == (302, f"{LIST}?e=1")


def test_batches_have_the_date_filter_too(staff_client, db):
    make_batch(source_name="old.csv", created_at=timezone.now() - timedelta(days=40))
    make_batch(source_name="new.csv")

    response = staff_client.get(f"/admin/orders/batch/?created_at__from={local_day(7)}")

    assert [b.source_name for b in response.context["cl"].result_list] == ["new.csv"]


def csv_rows(response):
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(body)))


def test_the_filtered_list_exports_as_csv_with_the_vendors_columns(staff_client, spread):
    response = staff_client.get(LIST + f"export.csv?created_at__from={local_day(7)}")

    rows = csv_rows(response)
    with open(DATA / "vendor-advanced-export.csv", encoding="utf-8", newline="") as sample:
        assert rows[0] == next(csv.reader(sample))
    assert [row[1] for row in rows[1:]] == [valid_imei(2), valid_imei(1)]


def test_the_last_7_days_export_as_xlsx_exactly_like_the_vendor_sample(staff_client):
    aged(40, 3)  # before: its factory resets the service title
    order = vendor_sample_order()
    Order.objects.filter(pk=order.pk).update(created_at=timezone.now() - timedelta(days=2))

    response = staff_client.get(LIST + f"export.xlsx?created_at__from={local_day(7)}")

    assert response["Content-Type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert response["Content-Disposition"].endswith('.xlsx"')
    sheet = workbook(response).active
    rows = [[as_vendor_text(cell) for cell in row] for row in sheet.iter_rows(values_only=True)]
    with open(DATA / "vendor-advanced-export.csv", encoding="utf-8", newline="") as sample:
        assert rows == list(csv.reader(sample))


def as_vendor_text(cell):
    """The XLSX types CREDITS (a number) and ORDER DATE (a date): the vendor's text of each."""
    if isinstance(cell, float):
        return f"${cell:.2f}"
    if isinstance(cell, datetime):
        return f"{cell:%Y-%m-%d} {cell.hour}:{cell:%M:%S}"
    return cell or ""


def workbook(response):
    assert response.streaming
    body = b"".join(response.streaming_content)
    assert int(response["Content-Length"]) == len(body)
    return openpyxl.load_workbook(io.BytesIO(body))


def test_an_xlsx_cell_is_never_a_formula_nor_broken_by_control_characters(staff_client):
    make_order(carrier='=HYPERLINK("http://evil")', last_error="bad\x01\x1b answer <&>")

    response = staff_client.get(LIST + "export.xlsx")

    cell = workbook(response).active["G2"]
    assert (cell.value, cell.data_type) == ('=HYPERLINK("http://evil")', "s")
    assert workbook(staff_client.get(LIST + "export.xlsx")).active["L2"].value == "bad answer <&>"


def test_an_xlsx_cell_that_reads_like_an_error_or_a_number_stays_text(staff_client):
    order = make_order(simlock="#N/A", fmi="+1", model_name="-2")

    row = [workbook(staff_client.get(LIST + "export.xlsx")).active[f"{c}2"] for c in "BHIJ"]

    assert [(cell.value, cell.data_type) for cell in row] == [
        (order.imei, "s"),
        ("#N/A", "s"),
        ("-2", "s"),
        ("+1", "s"),
    ]


def test_the_list_export_follows_search_and_status(staff_client, db):
    batch = make_batch()
    make_order(batch, S.FAILED, imei=valid_imei(1))
    make_order(batch, S.COMPLETED, imei=valid_imei(2))

    assert [r[1] for r in csv_rows(staff_client.get(LIST + "export.csv?status__exact=failed"))][
        1:
    ] == [valid_imei(1)]
    assert [r[1] for r in csv_rows(staff_client.get(LIST + f"export.csv?q={valid_imei(2)}"))][
        1:
    ] == [valid_imei(2)]


def test_the_list_links_its_exports_with_its_filters(staff_client, spread):
    page = staff_client.get(LIST + "?status__exact=queued").content.decode()

    assert 'href="/admin/orders/order/export.csv?status__exact=queued"' in page
    assert 'href="/admin/orders/order/export.xlsx?status__exact=queued"' in page


def test_the_list_export_needs_the_export_permission(client, django_user_model, spread):
    user = django_user_model.objects.create_user("viewer", password="x", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_order"))
    client.force_login(user)

    assert client.get(LIST + "export.csv").status_code == 403
    assert "export.csv" not in client.get(LIST).content.decode()


def test_the_export_action_also_writes_xlsx(staff_client, db):
    order = make_order()

    response = staff_client.post(
        LIST, {"action": "export_selected_orders_xlsx", "_selected_action": [order.pk]}
    )

    sheet = workbook(response).active
    assert [row[1] for row in sheet.iter_rows(values_only=True)] == ["IMEI NO.", order.imei]


def test_an_unknown_export_format_is_404(staff_client, db):
    assert staff_client.get(LIST + "export.pdf").status_code == 404


def paste(client, text):
    response = client.post(LIST + "imeis/", {"imeis": text})
    return client.get(response["Location"])


def test_the_many_imeis_box_joins_dashes_and_spaces_inside_an_imei(staff_client, db):
    order = make_order(imei="351669784801844")

    listing = paste(staff_client, "351-669784 801844")

    assert result_imeis(listing) == [order.imei]


def test_the_search_box_reads_one_imei_written_with_dashes_and_spaces(staff_client, db):
    order = make_order(imei="351669784801844")

    assert result_imeis(staff_client.get(LIST, {"q": "351-669784 801844"})) == [order.imei]


def test_the_many_imeis_box_names_what_is_not_an_imei(staff_client, db):
    make_order(imei=valid_imei(1))

    listing = paste(staff_client, f"{valid_imei(1)}\nhello\n12345")

    assert result_imeis(listing) == [valid_imei(1)]
    assert messages_of(listing) == [
        "Left out what are not IMEIs (an IMEI has 15 digits): “hello”, “12345”."
    ]


def test_the_many_imeis_box_keeps_the_pasted_order(staff_client, db):
    batch = make_batch()
    for n in (1, 2, 3):
        make_order(batch, imei=valid_imei(n))

    listing = paste(staff_client, f"{valid_imei(2)}\n{valid_imei(3)}\n{valid_imei(1)}")

    assert result_imeis(listing) == [valid_imei(2), valid_imei(3), valid_imei(1)]


def test_the_list_is_titled_orders_and_shows_costs_with_their_sign(staff_client, db):
    make_order(make_batch(service=make_service()), cost="0.08")

    response = staff_client.get(LIST)

    assert response.context["title"] == "Orders"
    assert '<td class="field-cost_display">$0.08</td>' in response.content.decode()


def test_the_list_shows_a_failed_orders_reason_in_its_own_column_escaped(staff_client, db):
    make_order(status=S.FAILED, last_error="Gave up: <HTTP 502>")

    html = staff_client.get(LIST).content.decode()

    assert "<span class='status status-failed'>Failed</span>" in html
    assert '<td class="field-reason_display">Gave up: &lt;HTTP 502&gt;</td>' in html


def completed(**fields):
    return make_order(
        status=S.COMPLETED,
        remote_id=15562209,
        result_code="Model: iPhone 11<br>Carrier: T-Mobile",
        result_text="Model: iPhone 11\nCarrier: T-Mobile",
        model_name="iPhone 11",
        carrier="T-Mobile",
        **fields,
    )


def test_the_order_page_shows_results_without_internals_or_save_buttons(staff_client, db):
    order = completed()

    response = staff_client.get(f"{LIST}{order.pk}/change/")
    html = response.content.decode()

    assert response.context["title"] == f"Order {order.imei} · Completed"
    assert "claim_token" not in html and "lease_expires_at" not in html
    assert "Placed, but its id was lost" not in html and "icon-no.svg" not in html
    assert "15562209" in html and "T-Mobile" in html
    assert "<details class='raw'><summary>Show all 2 lines</summary>" in html
    assert 'name="_save"' not in html and 'name="_continue"' not in html


def test_the_order_page_warns_only_when_a_placed_orders_id_was_lost(staff_client, db):
    order = make_order(status=S.DUPLICATE, placed_without_id=True)

    html = staff_client.get(f"{LIST}{order.pk}/change/").content.decode()

    assert "Placed, but its id was lost" in html


def test_the_timeline_shows_seconds(staff_client, db):
    order = completed()
    at = timezone.localtime(order.events.create(from_status=S.PENDING, to_status=S.COMPLETED).at)

    html = staff_client.get(f"{LIST}{order.pk}/change/").content.decode()

    assert f"{at:%Y-%m-%d %H:%M:%S}" in html


def test_batch_list_is_titled_batches(staff_client, db):
    make_batch(state=Batch.State.DONE)

    assert staff_client.get("/admin/orders/batch/").context["title"] == "Batches"
