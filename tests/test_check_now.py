"""Check now: 1-50 IMEIs become an urgent batch, whose results page fills in as they come."""

from orders.models import Batch, Order
from tests.fixtures.factories import make_batch, make_order, valid_imei

CHECK_NOW = "/admin/orders/order/check-now/"


def test_it_creates_an_urgent_batch_and_shows_its_results_page(staff_client, service, enqueued):
    imeis = [valid_imei(1), valid_imei(2)]

    response = staff_client.post(
        CHECK_NOW, {"imeis": "\n".join(imeis + [imeis[0]]), "service": service.pk}
    )

    batch = Batch.objects.get()
    assert (batch.priority, batch.state, batch.source_name) == ("urgent", "queued", "check now")
    assert list(batch.orders.order_by("id").values_list("imei", flat=True)) == imeis
    assert response.url == f"/admin/orders/order/check-now/{batch.pk}/"
    page = staff_client.get(response.url)
    assert page.context["title"] == "Check now: 2 IMEIs"
    assert f"/admin/orders/order/imei/{imeis[0]}/" in page.content.decode()


def test_it_checks_an_imei_already_ordered_again(staff_client, service, enqueued):
    make_order(imei=valid_imei(1), status=Order.Status.COMPLETED)

    staff_client.post(CHECK_NOW, {"imeis": valid_imei(1), "service": service.pk})

    assert Order.objects.filter(imei=valid_imei(1)).count() == 2


def test_it_refuses_bad_imeis_and_more_than_fifty(staff_client, service):
    bad = staff_client.post(CHECK_NOW, {"imeis": "353370080089458", "service": service.pk})
    many = "\n".join(valid_imei(n) for n in range(51))
    too_many = staff_client.post(CHECK_NOW, {"imeis": many, "service": service.pk}, follow=True)

    assert bad.url == "/admin/"
    assert [str(m) for m in too_many.context["messages"]] == [
        "Not sent: 353370080089458 fails the IMEI check digit (Luhn): expected check digit 1, "
        "not 8.",
        "Check now takes 1 to 50 IMEIs, not 51.",
    ]
    assert not Batch.objects.exists()


def test_a_refused_check_goes_back_only_to_a_page_of_ours(staff_client, service):
    data = {"imeis": "1", "service": service.pk}

    ours = staff_client.post(CHECK_NOW, {**data, "back": "/admin/orders/order/7/change/"})
    elsewhere = staff_client.post(CHECK_NOW, {**data, "back": "https://evil.example/"})

    assert (ours.url, elsewhere.url) == ("/admin/orders/order/7/change/", "/admin/")


def test_the_results_json_carries_each_orders_status_and_result(staff_client, service):
    batch = make_batch(orders=0, priority=Batch.Priority.URGENT)
    make_order(batch, status=Order.Status.COMPLETED, carrier="T-Mobile", fmi="OFF")

    data = staff_client.get(f"/admin/orders/order/check-now/{batch.pk}/results.json").json()

    assert data["open"] is False
    assert data["orders"][0]["carrier"] == "T-Mobile"
    assert data["orders"][0]["status_label"] == "Completed"


def test_an_ordinary_batch_has_no_check_now_page(staff_client, service):
    batch = make_batch(orders=1)

    assert staff_client.get(f"/admin/orders/order/check-now/{batch.pk}/").status_code == 404


def test_the_order_page_offers_check_again_and_the_imeis_history(staff_client, service):
    order = make_order()

    page = staff_client.get(f"/admin/orders/order/{order.pk}/change/").content.decode()

    assert 'id="check-again-now"' in page
    assert f'href="/admin/orders/order/imei/{order.imei}/"' in page


def test_the_index_shows_the_check_now_box(staff_client, service):
    assert 'id="check-now-submit"' in staff_client.get("/admin/").content.decode()
