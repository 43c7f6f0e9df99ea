"""One cause, one mail: a provider outage mails when it starts and when it ends, nothing else.

The failure rate and the unknown orders follow from the outage: they are held while it lasts
and for FAILURE_WINDOW after, and the recovery mail says what happened meanwhile.
"""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from orders.models import Batch, Order, OrderEvent
from submissions import alert_conditions, alerts
from submissions.models import Alert, Dispatcher
from tests.fixtures.factories import make_batch, make_order

pytestmark = pytest.mark.django_db

UNREACHABLE = "[IMEI portal] ALERT: Provider unreachable"
RECOVERED = "[IMEI portal] RECOVERED: Provider unreachable"


@pytest.fixture(autouse=True)
def mail_settings(settings):
    settings.ALERT_EMAILS = ["ops@example.com"]
    settings.ALERT_PROVIDER_DOWN_SECONDS = 180
    settings.ALERT_FAILURE_MIN_CALLS = 20
    settings.ALERT_FAILURE_PERCENT = 10
    settings.PORTAL_URL = "https://portal.example.com"


def call(order, to_status, at):
    OrderEvent.objects.create(
        order=order, from_status=Order.Status.SUBMITTING, to_status=to_status, latency_ms=90, at=at
    )


def evaluate_at(moment):
    """The alerts as the cluster evaluates them at `moment`, its driver alive meanwhile."""
    Dispatcher.objects.update_or_create(
        pk=1, defaults={"heartbeat_at": moment, "driver_expires_at": moment + timedelta(seconds=30)}
    )
    return alerts.evaluate(moment)


def subjects():
    return [m.subject for m in mail.outbox]


@pytest.fixture
def outage():
    """30 placed calls, then a 5-minute outage from `start`: 10 calls refused, 3 lost."""
    start = timezone.now() - timedelta(hours=1)
    batch = make_batch(orders=0, state=Batch.State.RUNNING)
    for second in range(30):
        call(
            make_order(batch=batch, status=Order.Status.PENDING),
            "pending",
            start - timedelta(seconds=60 - second),
        )
    for second in range(10):
        call(make_order(batch=batch), Order.Status.QUEUED, start + timedelta(seconds=20 * second))
    lost = [make_order(batch=batch, status=Order.Status.UNKNOWN) for _ in range(3)]
    for order in lost:
        call(order, Order.Status.UNKNOWN, start + timedelta(seconds=30))
    Dispatcher.objects.create(
        pk=1,
        last_success_at=start - timedelta(seconds=1),
        last_error="transient: Could not connect: refused",
        last_error_at=start + timedelta(seconds=200),
    )
    return start, lost


def recover(start, lost):
    Dispatcher.objects.update(last_success_at=start + timedelta(seconds=300))
    Order.objects.filter(pk__in=[o.pk for o in lost[:2]]).update(status=Order.Status.PENDING)


def test_a_five_minute_outage_sends_one_mail_when_it_starts_and_one_when_it_ends(outage):
    start, lost = outage
    for second in (60, 120):  # failing, not yet down: the failure rate and unknowns are held
        states = evaluate_at(start + timedelta(seconds=second))
        assert states == dict.fromkeys([c.key for c in alert_conditions.CONDITIONS], False)
    for second in (190, 250, 290):
        states = evaluate_at(start + timedelta(seconds=second))
        assert (states["provider_down"], states["failure_rate"], states["unknown_orders"]) == (
            True,
            False,
            False,
        )
    recover(start, lost)
    for second in (310, 370, 430, 900):  # the 15 minutes after: still the outage's
        evaluate_at(start + timedelta(seconds=second))

    assert subjects() == [UNREACHABLE, RECOVERED]
    assert list(Alert.objects.values_list("key", flat=True)) == ["provider_down"]


def test_the_recovery_mail_links_the_portal_and_says_what_happened_meanwhile(outage):
    start, lost = outage
    evaluate_at(start + timedelta(seconds=190))
    recover(start, lost)
    evaluate_at(start + timedelta(seconds=310))

    body = mail.outbox[1].body
    window = (
        f"{start + timedelta(seconds=190 - 360):%H:%M} to {start + timedelta(seconds=310):%H:%M}"
    )
    assert f"- 13 placeorder calls got no answer or an error from {window} UTC;" in body
    assert "- 3 orders became Unknown outcome, 1 still are:" in body
    assert "- 10 orders are queued in live batches and being sent." in body
    assert "The portal: https://portal.example.com/admin/ (the Alerts panel)." in body


def test_an_unknown_order_left_after_the_outage_alerts_once_the_hold_is_over(outage):
    start, lost = outage
    evaluate_at(start + timedelta(seconds=190))
    recover(start, lost)
    evaluate_at(start + timedelta(seconds=310))
    assert evaluate_at(start + timedelta(seconds=310 + 14 * 60))["unknown_orders"] is False

    states = evaluate_at(start + timedelta(seconds=310 + 16 * 60))

    assert (states["unknown_orders"], states["failure_rate"]) == (True, False)
    assert subjects() == [
        UNREACHABLE,
        RECOVERED,
        "[IMEI portal] ALERT: Orders with an unknown outcome",
    ]


def test_without_an_outage_the_failure_rate_alerts_as_before():
    order = make_order(status=Order.Status.PENDING)
    now = timezone.now()
    for second in range(18):
        call(order, Order.Status.PENDING, now - timedelta(seconds=second + 1))
    for second in range(3):
        call(order, Order.Status.FAILED, now - timedelta(seconds=second + 1))

    assert evaluate_at(now)["failure_rate"] is True
    assert subjects() == ["[IMEI portal] ALERT: Failure rate over the limit"]


def test_an_alert_open_before_the_outage_carries_on_and_clears_as_usual(outage):
    start, lost = outage
    Alert.objects.create(
        key="unknown_orders", title="Orders with an unknown outcome", opened_at=start
    )

    assert evaluate_at(start + timedelta(seconds=190))["unknown_orders"] is True
    Order.objects.filter(status=Order.Status.UNKNOWN).update(status=Order.Status.PENDING)
    assert evaluate_at(start + timedelta(seconds=250))["unknown_orders"] is False


def test_an_order_just_cut_off_waits_as_long_as_an_outage_takes_to_be_recognised():
    # The provider vanished mid-call: the order is unknown before any "failing" state shows.
    now = timezone.now()
    order = make_order(status=Order.Status.UNKNOWN)
    call(order, Order.Status.UNKNOWN, now - timedelta(seconds=10))

    assert evaluate_at(now)["unknown_orders"] is False
    assert evaluate_at(now + timedelta(seconds=171))["unknown_orders"] is True
    assert subjects() == ["[IMEI portal] ALERT: Orders with an unknown outcome"]
