"""The order search box: IMEIs, their first digits, order ids and result words, on indexes."""

from orders.models import Order
from tests.fixtures.factories import make_batch, make_order, valid_imei

S = Order.Status
LIST = "/admin/orders/order/"


def found(client, query):
    response = client.get(LIST, {"q": query})
    assert response.status_code == 200
    return sorted(o.imei for o in response.context["cl"].result_list)


def test_the_first_digits_of_an_imei_find_the_imeis_that_start_with_them(staff_client, db):
    batch = make_batch()
    first, second = valid_imei(123), valid_imei(124)
    make_order(batch, imei=first)
    make_order(batch, imei=second)

    assert found(staff_client, first[:13]) == [first, second]
    assert found(staff_client, first) == [first]
    assert found(staff_client, first[2:10]) == []  # the middle of an IMEI is no prefix


def test_a_word_is_looked_for_in_the_carrier_and_the_model(staff_client, db):
    batch = make_batch()
    make_order(batch, S.COMPLETED, imei=valid_imei(1), carrier="T-Mobile", model_name="iPhone 11")
    make_order(batch, S.COMPLETED, imei=valid_imei(2), carrier="AT&T", model_name="iPhone 11")
    make_order(batch, S.COMPLETED, imei=valid_imei(3), carrier="Verizon", model_name="iPhone 13")

    assert found(staff_client, "t-mobile") == [valid_imei(1)]
    assert found(staff_client, "iPhone 11") == [valid_imei(1), valid_imei(2)]
    assert found(staff_client, "iphone 11 AT&T") == [valid_imei(2)]


def test_an_id_too_long_for_the_database_is_no_error(staff_client, db):
    make_order(make_batch(), imei=valid_imei(1))

    assert found(staff_client, "9" * 25) == []
