"""Live controls: concurrency, calls per minute and "stop all sending", changed in the admin."""

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from orders.models import Batch, Order
from submissions import controls
from submissions.driver import Driver, lease, limits
from submissions.models import Control, ControlChange, Dispatcher
from tests.fixtures.driver import ScriptedClient, run
from tests.fixtures.factories import make_batch, make_order

CHANGE_URL = "/admin/submissions/control/1/change/"

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(django_user_model):
    user = django_user_model.objects.create_user("op", password="op-pass-123", is_staff=True)
    user.user_permissions.add(
        Permission.objects.get(codename="operate_sending"),
        Permission.objects.get(codename="view_order"),
    )
    return user


def form(**values):
    data = {"concurrency": "", "rate_per_minute": "", **values}
    if data.pop("sending_stopped", False):
        data["sending_stopped"] = "on"
    return data


def test_without_a_control_row_the_settings_apply(settings):
    settings.SUBMIT_CONCURRENCY, settings.SUBMIT_RATE_PER_MINUTE = 30, 0

    assert controls.effective() == controls.Effective(30, 0, False)


def test_a_change_is_recorded_with_who_and_from_what_to_what(staff_user, settings):
    settings.SUBMIT_CONCURRENCY = 30
    controls.change(staff_user, concurrency=5, sending_stopped=False)
    controls.change(staff_user, concurrency=8)

    changes = [(c.user, c.field, c.old_value, c.new_value) for c in ControlChange.objects.all()]
    assert changes == [(staff_user, "concurrency", "5", "8"), (staff_user, "concurrency", "", "5")]
    assert controls.effective().concurrency == 8


def test_an_operator_with_the_permission_changes_them_in_the_admin(client, operator):
    client.force_login(operator)

    response = client.post(CHANGE_URL, form(concurrency=5, rate_per_minute=120), follow=True)

    assert response.status_code == 200
    live = controls.effective()
    assert (live.concurrency, live.rate_per_minute, live.sending_stopped) == (5, 120, False)
    assert sorted(ControlChange.objects.values_list("field", "new_value", "user__username")) == [
        ("concurrency", "5", "op"),
        ("rate_per_minute", "120", "op"),
    ]


def test_a_staff_user_without_the_permission_cannot_change_them(client, django_user_model):
    user = django_user_model.objects.create_user("viewer", password="x-pass-123", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_control"))
    client.force_login(user)

    assert client.get(CHANGE_URL).status_code == 200  # may look
    assert client.post(CHANGE_URL, form(sending_stopped=True)).status_code == 403
    assert ControlChange.objects.count() == 0
    assert controls.effective().sending_stopped is False


def test_a_concurrency_out_of_bounds_is_refused_by_the_form(client, operator):
    client.force_login(operator)

    response = client.post(CHANGE_URL, form(concurrency=0))

    assert "Between 1 and 500." in response.content.decode()
    assert Control.objects.get().concurrency is None


def test_the_index_shows_the_effective_values_and_the_change_log(client, operator):
    client.force_login(operator)
    controls.change(operator, concurrency=5, sending_stopped=True)

    html = client.get("/admin/").content.decode()

    assert 'id="control-concurrency">5<' in html
    assert 'id="control-sending"><span class="health-bad">STOPPED by an operator' in html
    assert "<td>op</td><td>Concurrency: the default → 5</td>" in html
    assert "<td>op</td><td>Sending: on → stopped</td>" in html
    assert "Change the live controls" in html


def test_a_running_driver_applies_a_lowered_cap_at_its_next_housekeeping(settings):
    settings.SUBMIT_CONCURRENCY = 30
    make_batch(orders=50)
    client = ScriptedClient(delay=1)
    driver = Driver(lease.acquire(), 5, lambda: client, clock=client.clock)
    try:
        controls.change(None, concurrency=5)
        assert driver.housekeeping()

        driver.refill()

        assert (
            driver.outcomes.limits.cap,
            driver.outcomes.limits.concurrency,
            len(driver.sending.sends),
        ) == (5, 5, 5)
        assert Order.objects.in_flight().count() == 5
    finally:
        client.clock.advance(1)  # the calls in flight answer: no thread outlives the test
        driver.close()


def test_a_raised_cap_applies_at_once_unless_429s_had_lowered_the_limit(settings):
    settings.SUBMIT_CONCURRENCY = 10
    controls.change(None, concurrency=20)
    assert (limits.current().cap, limits.current().concurrency) == (20, 20)

    Dispatcher.row().update(effective_concurrency=4)  # halved after 429s
    controls.change(None, concurrency=40)
    assert (limits.current().cap, limits.current().concurrency) == (40, 4)


def test_stop_all_sending_claims_nothing_but_still_polls(enqueued, settings):
    settings.STATUS_POLL_SECONDS = 0.1
    batch = make_batch(orders=3, state=Batch.State.QUEUED)
    make_order(status=Order.Status.PENDING, remote_id=15562300, next_poll_at=timezone.now())
    controls.change(None, sending_stopped=True)
    client = ScriptedClient()

    summary = run(client, seconds=0.5)

    assert summary["claimed"] == 0
    assert sum(client.calls.values()) == 0
    assert batch.orders.filter(status=Order.Status.QUEUED).count() == 3
    assert [15562300] in client.status_calls


def test_the_batch_page_shows_the_concurrency_and_rate_in_effect(staff_client, settings):
    settings.SUBMIT_CONCURRENCY, settings.SUBMIT_RATE_PER_MINUTE = 30, 0
    batch = make_batch(orders=2)
    controls.change(None, concurrency=5, rate_per_minute=90)

    progress = staff_client.get(f"/admin/orders/batch/{batch.pk}/progress.json").json()

    assert (progress["concurrency"], progress["rate_limit_per_minute"]) == (5, 90)
