"""Two-factor login for staff who can move money (STAFF_2FA)."""

import pytest
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from portal import twofactor


@pytest.fixture(autouse=True)
def staff_2fa_on(settings):
    settings.STAFF_2FA = True


def current_code(device):
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):06d}"


def set_up(client):
    client.get("/admin/2fa/setup/")
    device = TOTPDevice.objects.get()
    response = client.post("/admin/2fa/setup/?next=/admin/", {"token": current_code(device)})
    return device, response


def test_a_staff_member_who_can_spend_must_set_up_a_second_factor_first(staff_client):
    response = staff_client.get("/admin/")

    assert (response.status_code, response.url) == (302, "/admin/2fa/setup/?next=/admin/")


def test_setting_up_totp_shows_ten_recovery_codes_once_and_lets_them_in(staff_client):
    device, response = set_up(staff_client)

    device.refresh_from_db()
    assert device.confirmed
    assert len(response.context["codes"]) == twofactor.RECOVERY_CODES
    assert staff_client.get("/admin/").status_code == 200


def test_the_next_login_asks_for_the_code_and_refuses_a_wrong_one(client, staff_user, staff_client):
    set_up(staff_client)
    client.logout()
    client.force_login(staff_user)

    assert client.get("/admin/").url == "/admin/2fa/verify/?next=/admin/"
    response = client.post("/admin/2fa/verify/", {"token": "000000x"})
    assert "That code is not valid" in response.content.decode()
    assert client.get("/admin/").status_code == 302


def test_a_recovery_code_works_once(client, staff_user, staff_client):
    _, response = set_up(staff_client)
    code = response.context["codes"][0]
    answers = []
    for _ in range(2):
        client.logout()
        client.force_login(staff_user)
        answers.append(client.post("/admin/2fa/verify/?next=/admin/", {"token": code}))

    assert (answers[0].status_code, answers[0].url) == (302, "/admin/")
    assert "That code is not valid" in answers[1].content.decode()


def test_staff_who_cannot_move_money_log_in_as_before(client, django_user_model):
    viewer = django_user_model.objects.create_user("viewer", password="x-pass-123", is_staff=True)
    client.force_login(viewer)

    assert client.get("/admin/").status_code == 200


def test_staff_2fa_off_lets_everyone_in_with_a_password(staff_client, settings):
    settings.STAFF_2FA = False

    assert staff_client.get("/admin/").status_code == 200
