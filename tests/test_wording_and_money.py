"""Wording and money: the index's Import button, the services' prices with their sign."""

from django.contrib.auth.models import Permission

from tests.fixtures.factories import make_service


def test_the_admin_index_has_an_import_button(staff_client):
    html = staff_client.get("/admin/").content.decode()

    assert 'href="/admin/orders/order/import/" class="import_link" id="index-import"' in html


def test_the_import_button_needs_the_import_permission(client, django_user_model):
    user = django_user_model.objects.create_user("viewer", password="x", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_order"))
    client.force_login(user)

    assert 'id="index-import"' not in client.get("/admin/").content.decode()


def test_service_prices_show_their_currency_sign(staff_client):
    make_service()

    html = staff_client.get("/admin/orders/service/").content.decode()

    assert '<td class="field-price_display">$0.08</td>' in html
