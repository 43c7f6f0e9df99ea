"""One device's history: its orders side by side and what changed between checks."""

from datetime import timedelta

from django.utils import timezone

from orders.models import Order
from tests.fixtures.factories import make_batch, make_order, make_service, valid_imei

IMEI = valid_imei(7)


def checked(days_ago, service=None, **result):
    order = make_order(imei=IMEI, status=Order.Status.COMPLETED, **result)
    Order.objects.filter(pk=order.pk).update(created_at=timezone.now() - timedelta(days=days_ago))
    return order


def test_it_shows_every_order_of_the_imei_and_what_changed(staff_client, service):
    checked(9, fmi="ON", carrier="T-Mobile", simlock="Locked")
    checked(5, fmi="OFF", carrier="T-Mobile", simlock="Locked")
    checked(1, fmi="OFF", carrier="AT&T", simlock="Unlocked")
    make_order(imei=valid_imei(8))

    response = staff_client.get(f"/admin/orders/order/imei/{IMEI}/")

    assert len(response.context["orders"]) == 3
    found = [(c.field, c.before, c.after) for c in response.context["changes"]]
    assert found == [
        ("Find My iPhone", "ON", "OFF"),
        ("carrier", "T-Mobile", "AT&T"),
        ("SIM lock", "Locked", "Unlocked"),
    ]
    assert "ON → OFF" in response.content.decode()


def test_it_spans_services_and_leaves_out_open_orders_from_the_changes(staff_client, service):
    checked(3, fmi="ON")
    other = make_batch(service=make_service(id=9, title="Blacklist check"))
    make_order(other, imei=IMEI, status=Order.Status.PENDING, fmi="OFF")

    response = staff_client.get(f"/admin/orders/order/imei/{IMEI}/")

    services = [order.service.title for order in response.context["orders"]]
    assert services == [service.title, "Blacklist check"]
    assert response.context["changes"] == []


def test_a_search_for_one_imei_links_its_history(staff_client, service):
    make_order(imei=IMEI)

    page = staff_client.get(f"/admin/orders/order/?q={IMEI}").content.decode()

    assert f'href="/admin/orders/order/imei/{IMEI}/"' in page


def test_a_value_that_is_not_an_imei_is_not_found(staff_client):
    assert staff_client.get("/admin/orders/order/imei/12345/").status_code == 404


def test_the_page_reads_a_fixed_number_of_queries(
    staff_client, service, django_assert_max_num_queries
):
    for days in range(6):
        checked(days, fmi="ON" if days % 2 else "OFF")

    with django_assert_max_num_queries(8):
        staff_client.get(f"/admin/orders/order/imei/{IMEI}/")
