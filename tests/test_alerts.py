"""Alerts: each condition opens one record and one mail when it starts, one when it clears."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

import submissions.driver
from orders.models import Batch, Order, OrderEvent
from submissions import alerts, services
from submissions.models import Alert, Dispatcher
from tests.fixtures.factories import make_batch, make_order, make_service

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def recipients(settings):
    settings.ALERT_EMAILS = ["ops@example.com"]


def subjects():
    return [m.subject for m in mail.outbox]


def call_event(order, to_status, seconds_ago=1):
    return OrderEvent.objects.create(
        order=order,
        from_status=Order.Status.SUBMITTING,
        to_status=to_status,
        latency_ms=100,
        detail="HTTP 502: try again later",
        at=timezone.now() - timedelta(seconds=seconds_ago),
    )


def test_unknown_orders_open_one_alert_and_one_mail_however_often_evaluated():
    make_order(status=Order.Status.UNKNOWN)

    for _ in range(3):
        assert alerts.evaluate()["unknown_orders"] is True

    assert Alert.objects.filter(key="unknown_orders", closed_at=None).count() == 1
    assert subjects() == ["[IMEI portal] ALERT: Orders with an unknown outcome"]
    assert mail.outbox[0].to == ["ops@example.com"]
    assert "1 orders in Unknown outcome" in mail.outbox[0].body


def test_a_cleared_condition_closes_its_alert_and_mails_once():
    order = make_order(status=Order.Status.UNKNOWN)
    alerts.evaluate()
    Order.objects.filter(pk=order.pk).update(status=Order.Status.FAILED)

    alerts.evaluate()
    alerts.evaluate()

    alert = Alert.objects.get(key="unknown_orders")
    assert alert.closed_at is not None
    assert subjects() == [
        "[IMEI portal] ALERT: Orders with an unknown outcome",
        "[IMEI portal] RECOVERED: Orders with an unknown outcome",
    ]


def test_a_condition_that_returns_opens_a_new_alert():
    order = make_order(status=Order.Status.UNKNOWN)
    alerts.evaluate()
    Order.objects.filter(pk=order.pk).update(status=Order.Status.FAILED)
    alerts.evaluate()
    Order.objects.filter(pk=order.pk).update(status=Order.Status.UNKNOWN)

    alerts.evaluate()

    assert Alert.objects.filter(key="unknown_orders").count() == 2
    assert len(mail.outbox) == 3


def test_nothing_wrong_means_no_alert_and_no_mail():
    make_batch(orders=3, state=Batch.State.DONE)

    assert not any(alerts.evaluate().values())
    assert (Alert.objects.count(), len(mail.outbox)) == (0, 0)


def test_batches_paused_by_the_portal_alert_but_an_operator_pause_does_not(staff_user):
    by_operator = make_batch(orders=1, state=Batch.State.RUNNING)
    services.pause_batch(by_operator, staff_user)
    assert alerts.evaluate()["batches_paused"] is False

    by_portal = make_batch(orders=1, state=Batch.State.RUNNING)
    by_portal.pause("Provider rejected our credentials: Invalid API Key! — fix and resume.")

    assert alerts.evaluate()["batches_paused"] is True
    detail = Alert.objects.get(key="batches_paused").detail
    assert detail.startswith(f"1 batches paused by the portal. batch {by_portal.pk}: Provider")


def test_stuck_orders_alert(settings):
    service = make_service(delivery_time="Instant-5 Minutes")
    batch = make_batch(service=service, orders=0)
    make_order(batch=batch, status=Order.Status.PENDING)
    assert alerts.evaluate()["stuck_orders"] is False

    Order.objects.update(created_at=timezone.now() - timedelta(minutes=11))

    assert alerts.evaluate()["stuck_orders"] is True


def test_no_live_worker_while_work_waits_alerts(settings):
    settings.HEALTH_DRIVER_STALE_SECONDS = 30
    make_batch(orders=2, state=Batch.State.RUNNING)
    Dispatcher.objects.create(pk=1, heartbeat_at=timezone.now() - timedelta(seconds=40))

    assert alerts.evaluate()["no_worker"] is True

    Dispatcher.objects.update(heartbeat_at=timezone.now())
    assert alerts.evaluate()["no_worker"] is False


def test_failure_rate_over_the_limit_in_15_minutes(settings):
    settings.ALERT_FAILURE_MIN_CALLS = 20
    settings.ALERT_FAILURE_PERCENT = 10
    order = make_order(status=Order.Status.PENDING)
    for _ in range(18):
        call_event(order, Order.Status.PENDING)
    for _ in range(2):
        call_event(order, Order.Status.QUEUED)
    assert alerts.evaluate()["failure_rate"] is False  # 2 of 20 is 10 %: not over

    call_event(order, Order.Status.UNKNOWN)
    call_event(order, Order.Status.PENDING, seconds_ago=16 * 60)  # outside the window

    assert alerts.evaluate()["failure_rate"] is True
    assert Alert.objects.get(key="failure_rate").detail == (
        "3 of 21 placeorder calls failed in the last 15 minutes."
    )


def test_spend_over_the_daily_limit(settings):
    settings.SPEND_ALERT_PER_DAY = 10
    batch = make_batch(orders=0)
    make_order(batch=batch, status=Order.Status.COMPLETED, cost=Decimal("9.99"))
    assert alerts.evaluate()["spend"] is False

    make_order(batch=batch, status=Order.Status.PENDING, cost=Decimal("0.08"))

    assert alerts.evaluate()["spend"] is True
    assert "$10.07 spent today" in Alert.objects.get(key="spend").detail


def test_provider_unreachable_opens_after_the_threshold_and_clears_on_an_answer(settings):
    settings.ALERT_PROVIDER_DOWN_SECONDS = 60
    order = make_order(status=Order.Status.QUEUED)
    now = timezone.now()
    Dispatcher.objects.create(pk=1, last_success_at=now - timedelta(seconds=70), last_error_at=now)
    call_event(order, Order.Status.QUEUED, seconds_ago=5)

    assert alerts.evaluate()["provider_down"] is True
    Dispatcher.objects.update(last_success_at=timezone.now())
    assert alerts.evaluate()["provider_down"] is False

    assert [s for s in subjects() if "Provider" in s] == [
        "[IMEI portal] ALERT: Provider unreachable",
        "[IMEI portal] RECOVERED: Provider unreachable",
    ]


def test_without_recipients_alerts_are_recorded_but_not_mailed(settings):
    settings.ALERT_EMAILS = []
    make_order(status=Order.Status.UNKNOWN)

    alerts.evaluate()
    settings.ALERT_EMAILS = ["ops@example.com"]
    alerts.evaluate()  # recipients added later: no flood of old alerts

    assert Alert.objects.filter(key="unknown_orders").exists()
    assert mail.outbox == []


def test_checkalerts_command_evaluates_and_lists_open_alerts(capsys):
    make_order(status=Order.Status.UNKNOWN)

    call_command("checkalerts")

    assert capsys.readouterr().out.strip() == "Open alerts: unknown_orders"


# -- through a real SMTP server on loopback --------------------------------------------------


def test_alert_mails_reach_a_real_smtp_server(smtp_sink):
    order = make_order(status=Order.Status.UNKNOWN)
    alerts.evaluate()
    Order.objects.filter(pk=order.pk).update(status=Order.Status.FAILED)
    alerts.evaluate()

    assert smtp_sink.subjects() == [
        "[IMEI portal] ALERT: Orders with an unknown outcome",
        "[IMEI portal] RECOVERED: Orders with an unknown outcome",
    ]
    first = smtp_sink.messages[0]
    assert first["to"] == ["ops@example.com", "boss@example.com"]
    assert "1 orders in Unknown outcome" in first["message"].get_content()


def test_a_mail_the_smtp_server_refused_is_sent_at_the_next_evaluation(smtp_sink, settings):
    make_order(status=Order.Status.UNKNOWN)
    settings.EMAIL_PORT = 1  # nothing listens there: connection refused
    alerts.evaluate()
    assert Alert.objects.get().open_mailed_at is None

    settings.EMAIL_PORT = smtp_sink.port
    alerts.evaluate()
    alerts.evaluate()

    assert smtp_sink.subjects() == ["[IMEI portal] ALERT: Orders with an unknown outcome"]


def test_an_answered_status_poll_clears_provider_unreachable_when_nothing_is_left_to_send(
    settings, monkeypatch
):
    from tests.fixtures.driver import ScriptedClient, run

    monkeypatch.setattr(submissions.driver, "enqueue", lambda: None)
    monkeypatch.setattr(submissions.driver.loop, "HOUSEKEEPING_SECONDS", 0.05)
    settings.ALERT_PROVIDER_DOWN_SECONDS = 60
    settings.STATUS_POLL_SECONDS = 0.1
    make_order(status=Order.Status.PENDING, remote_id=15562300, next_poll_at=timezone.now())
    Dispatcher.objects.create(
        pk=1,
        last_success_at=timezone.now() - timedelta(minutes=10),
        last_error="transient: Could not connect: refused",
        last_error_at=timezone.now() - timedelta(minutes=8),
    )
    assert alerts.evaluate()["provider_down"] is True

    run(ScriptedClient(), seconds=0.3)  # only a getimeis call: every order was sent before

    assert alerts.evaluate()["provider_down"] is False
    assert [s for s in subjects() if "Provider" in s] == [
        "[IMEI portal] ALERT: Provider unreachable",
        "[IMEI portal] RECOVERED: Provider unreachable",
    ]
