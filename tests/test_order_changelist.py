"""The order changelist: filters, the multi-IMEI search and the order's timeline."""

from datetime import timedelta

import pytest
from django.utils import timezone

from orders.models import Order, OrderEvent
from portal.admin.filters import parse_delivery_time
from tests.fixtures.factories import make_batch, make_order, make_service, valid_imei

S = Order.Status
LIST = "/admin/orders/order/"


def result_imeis(response):
    return sorted(o.imei for o in response.context["cl"].result_list)


def messages_of(response):
    return [str(m) for m in response.context["messages"]]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Instant-5 Minutes", timedelta(minutes=5)),
        ("1-3 Days", timedelta(days=3)),
        ("24 Hours", timedelta(hours=24)),
        ("1-2 Weeks", timedelta(weeks=2)),
        ("Instant", timedelta(hours=1)),
        ("", timedelta(hours=1)),
        ("ask support", timedelta(hours=1)),
    ],
)
def test_delivery_time_is_read_as_its_longest_promise(text, expected):
    assert parse_delivery_time(text) == expected


def test_stuck_lists_open_orders_older_than_twice_the_delivery_time(staff_client, db):
    now = timezone.now()
    fast = make_batch(service=make_service())  # Instant-5 Minutes: stuck after 10 minutes
    slow = make_batch(service=make_service(id=77, title="Unlock", delivery_time="1-3 Days"))
    make_order(fast, S.PENDING, imei=valid_imei(1), created_at=now - timedelta(minutes=11))
    make_order(fast, S.PENDING, imei=valid_imei(2), created_at=now - timedelta(minutes=9))
    make_order(fast, S.COMPLETED, imei=valid_imei(3), created_at=now - timedelta(hours=2))
    make_order(slow, S.PENDING, imei=valid_imei(4), created_at=now - timedelta(days=7))
    make_order(slow, S.PENDING, imei=valid_imei(5), created_at=now - timedelta(days=2))

    response = staff_client.get(LIST + "?stuck=yes")

    assert result_imeis(response) == sorted([valid_imei(1), valid_imei(4)])


def test_has_error_and_result_filters(staff_client, db):
    batch = make_batch()
    make_order(batch, S.FAILED, imei=valid_imei(1), last_error="Invalid API Key!")
    make_order(batch, S.COMPLETED, imei=valid_imei(2), carrier="T-Mobile", fmi="ON")
    make_order(batch, S.COMPLETED, imei=valid_imei(3), carrier="AT&T", simlock="Locked")

    assert result_imeis(staff_client.get(LIST + "?has_error=yes")) == [valid_imei(1)]
    assert result_imeis(staff_client.get(LIST + "?carrier=T-Mobile")) == [valid_imei(2)]
    assert result_imeis(staff_client.get(LIST + "?simlock=Locked")) == [valid_imei(3)]
    assert result_imeis(staff_client.get(LIST + "?fmi=ON")) == [valid_imei(2)]
    html = staff_client.get(LIST).content.decode()
    assert "?carrier=T-Mobile" in html and "?carrier=AT%26T" in html


def test_batch_service_and_status_filters(staff_client, db):
    first = make_batch(orders=3)
    second = make_batch(service=make_service(id=77, title="Unlock"), orders=2)
    first.orders.filter(pk=first.orders.first().pk).update(status=S.FAILED)

    assert len(result_imeis(staff_client.get(f"{LIST}?batch__id__exact={first.pk}"))) == 3
    assert len(result_imeis(staff_client.get(f"{LIST}?service__id__exact=77"))) == 2
    response = staff_client.get(f"{LIST}?batch__id__exact={first.pk}&status__exact=failed")
    assert len(result_imeis(response)) == 1
    assert second.orders.count() == 2


@pytest.mark.parametrize(
    "query", ["batch__id__exact=abc", "service__id__exact=1x", "batch__id__exact=" + "9" * 20]
)
def test_a_batch_or_service_filter_that_is_no_id_is_a_bad_lookup_not_an_error(
    staff_client, db, query
):
    make_batch(orders=1)

    response = staff_client.get(f"{LIST}?{query}")

    assert (response.status_code, response["Location"]) == (302, f"{LIST}?e=1")


def test_changelist_costs_the_same_queries_for_many_rows(
    staff_client, db, django_assert_max_num_queries
):
    make_batch(orders=100)

    with django_assert_max_num_queries(16):
        response = staff_client.get(LIST)

    assert response.context["cl"].result_count == 100


def test_search_of_many_imeis_finds_them_and_names_the_missing(staff_client, db):
    batch = make_batch(orders=5)
    present = sorted(batch.orders.values_list("imei", flat=True))[:3]
    missing = [valid_imei(900_001), valid_imei(900_002)]
    query = f"{present[0]}\n{present[1]}, {missing[0]} ,{present[2]} {missing[1]}"

    response = staff_client.get(LIST, {"q": query})

    assert result_imeis(response) == present
    assert messages_of(response) == [f"2 IMEIs have no order here: {missing[0]}, {missing[1]}."]


def test_search_of_one_imei_or_an_order_id_still_works(staff_client, db):
    batch = make_batch()
    make_order(batch, S.PENDING, imei=valid_imei(1), remote_id=15562209)
    make_order(batch, S.PENDING, imei=valid_imei(2))

    assert result_imeis(staff_client.get(LIST, {"q": valid_imei(2)})) == [valid_imei(2)]
    assert result_imeis(staff_client.get(LIST, {"q": "15562209"})) == [valid_imei(1)]


def test_pasting_30000_imeis_filters_the_list_without_a_long_url(
    staff_client, db, django_assert_max_num_queries
):
    batch = make_batch(orders=300)
    present = list(batch.orders.values_list("imei", flat=True))
    pasted = present + [valid_imei(500_000 + i) for i in range(29_700)]

    response = staff_client.post(LIST + "imeis/", {"imeis": "\r\n".join(pasted)})
    assert response.status_code == 302
    with django_assert_max_num_queries(60):
        listing = staff_client.get(response["Location"])

    assert listing.context["cl"].result_count == 300
    (message,) = messages_of(listing)
    assert message.startswith(f"29700 IMEIs have no order here: {valid_imei(500_000)}, ")
    assert message.endswith(" and 29690 more.")
    assert "30,000 pasted IMEIs" in listing.content.decode()


def test_order_page_shows_a_readable_escaped_timeline(staff_client, db):
    order = make_order(status=S.PENDING, result_code="<script>alert('r')</script>")
    OrderEvent.objects.create(
        order=order,
        from_status=S.SUBMITTING,
        to_status=S.PENDING,
        latency_ms=15_230,
        detail="<result><imeis><id>15562209</id></imeis></result>",
    )

    html = staff_client.get(f"{LIST}{order.pk}/change/").content.decode()

    assert "Submitting</span> → <span class='status status-pending'>Pending" in html
    assert "15.2 s" in html
    assert "&lt;result&gt;&lt;imeis&gt;&lt;id&gt;15562209" in html
    assert "<script>alert" not in html


def test_error_text_is_escaped_in_the_list(staff_client, db):
    make_order(status=S.FAILED, last_error="<script>alert(1)</script>", carrier="<b>x</b>")

    html = staff_client.get(LIST).content.decode()

    assert "<script>alert(1)" not in html and "<b>x</b>" not in html
    assert "&lt;b&gt;x&lt;/b&gt;" in html
