"""/health/: no login, JSON, 200 when the database, cache and worker cluster are fine, 503 not."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from orders.models import Batch, Order
from portal import health as health_view
from submissions import health
from submissions.models import Breaker, Dispatcher
from tests.fixtures.factories import make_batch, make_order

pytestmark = pytest.mark.django_db


def heartbeat(seconds_ago):
    Dispatcher.objects.update_or_create(
        pk=1, defaults={"heartbeat_at": timezone.now() - timedelta(seconds=seconds_ago)}
    )


def test_it_answers_200_without_login_when_a_cluster_beats(client):
    heartbeat(5)

    response = client.get("/health/")

    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["database"], body["cache"]) == ("ok", True, True)
    assert body["workers"]["alive"] is True
    assert body["workers"]["work_waiting_without_driver"] is False
    assert response["Cache-Control"].startswith("max-age=0")


def test_it_answers_503_when_no_cluster_ever_beat(client):
    response = client.get("/health/")

    assert response.status_code == 503
    assert response.json()["workers"] == {
        "alive": False,
        "heartbeat_at": None,
        "work_waiting": False,
        "work_waiting_without_driver": False,
    }


def test_it_answers_503_once_the_heartbeat_is_older_than_the_threshold(client, settings):
    settings.HEALTH_WORKER_STALE_SECONDS = 60
    heartbeat(61)

    assert client.get("/health/").status_code == 503


def test_it_answers_503_when_work_waits_and_no_driver_was_seen(client, settings):
    settings.HEALTH_DRIVER_STALE_SECONDS = 30
    make_batch(orders=3, state=Batch.State.RUNNING)
    heartbeat(45)  # the cluster beat 45 s ago (idle tasks), but no driver since

    body = client.get("/health/")

    assert body.status_code == 503
    assert body.json()["workers"]["work_waiting_without_driver"] is True


def test_a_live_driver_lease_covers_the_moment_between_two_heartbeats(client, settings):
    settings.HEALTH_DRIVER_STALE_SECONDS = 30
    make_batch(orders=3, state=Batch.State.RUNNING)
    heartbeat(45)
    Dispatcher.objects.update(driver_expires_at=timezone.now() + timedelta(seconds=20))

    assert client.get("/health/").status_code == 200


def test_paused_work_is_not_work_waiting(client):
    make_batch(orders=3, state=Batch.State.PAUSED)
    heartbeat(100)

    assert client.get("/health/").json()["workers"]["work_waiting"] is False


def test_it_leaks_no_key_no_error_text_and_no_order_data(client, settings):
    order = make_order(status=Order.Status.UNKNOWN, last_error="secret-ish 355473496054560")
    Dispatcher.objects.create(
        pk=1, last_error=f"Invalid API Key! {settings.GSM_FUSION_API_KEY}", heartbeat_at=None
    )
    Dispatcher.objects.update(last_error_at=timezone.now())

    text = client.get("/health/").content.decode()

    assert settings.GSM_FUSION_API_KEY not in text
    assert "Invalid API Key" not in text
    assert order.imei not in text and "355473496054560" not in text


def test_a_failing_database_check_says_false_without_the_exception_text(client, monkeypatch):
    heartbeat(1)

    def broken():
        raise RuntimeError("password=hunter2 at db.internal")

    broken.__name__ = "check_database"
    monkeypatch.setattr(health_view, "check_database", broken)
    response = client.get("/health/")

    assert response.status_code == 503
    assert response.json()["database"] is False
    assert "hunter2" not in response.content.decode()


def test_it_answers_within_50_ms_with_work_in_the_tables(client):
    make_batch(orders=500, state=Batch.State.RUNNING)
    heartbeat(1)
    client.get("/health/")  # warm up: first connection, URL resolver

    took = []
    for _ in range(10):
        started = time.perf_counter()
        assert client.get("/health/").status_code == 200
        took.append(time.perf_counter() - started)

    assert sorted(took)[5] < 0.05  # the median, on a shared CI machine


def test_it_refuses_post(client):
    assert client.post("/health/").status_code == 405


# -- provider_state: the one reading of provider health -------------------------------------


def call_event(order, to_status, seconds_ago):
    from orders.models import OrderEvent

    return OrderEvent.objects.create(
        order=order,
        from_status=Order.Status.SUBMITTING,
        to_status=to_status,
        latency_ms=100,
        at=timezone.now() - timedelta(seconds=seconds_ago),
    )


def test_provider_is_down_after_errors_and_no_answer_for_the_threshold(settings):
    settings.ALERT_PROVIDER_DOWN_SECONDS = 60
    order = make_order()
    now = timezone.now()
    Dispatcher.objects.create(
        pk=1, last_success_at=now - timedelta(seconds=90), last_error_at=now - timedelta(seconds=2)
    )
    call_event(order, Order.Status.QUEUED, 80)

    state = health.provider_state(now)

    assert state.state == "down"
    assert state.failing_since == now - timedelta(seconds=90)


def test_provider_is_failing_before_the_threshold_and_ok_after_an_answer(settings):
    settings.ALERT_PROVIDER_DOWN_SECONDS = 60
    order = make_order()
    now = timezone.now()
    Dispatcher.objects.create(
        pk=1, last_success_at=now - timedelta(seconds=30), last_error_at=now - timedelta(seconds=2)
    )
    assert health.provider_state(now).state == "failing"

    call_event(order, Order.Status.DUPLICATE, 1)  # an answer, even a duplicate one

    assert health.provider_state(now).state == "ok"


def test_provider_stays_down_while_nothing_is_sent_until_a_call_is_answered(settings):
    settings.ALERT_PROVIDER_DOWN_SECONDS = 60
    now = timezone.now()
    Dispatcher.objects.create(
        pk=1,
        last_success_at=now - timedelta(hours=3),
        last_error="transient: Could not connect: refused",
        last_error_at=now - timedelta(hours=2),
    )

    assert health.provider_state(now).state == "down"
    Dispatcher.objects.update(last_success_at=now)
    assert health.provider_state(now).state == "ok"


def test_an_error_the_provider_answered_is_not_unreachability(settings):
    settings.ALERT_PROVIDER_DOWN_SECONDS = 60
    now = timezone.now()
    Dispatcher.objects.create(
        pk=1,
        last_success_at=now - timedelta(hours=1),
        last_error="permanent: Invalid IMEI!",
        last_error_at=now - timedelta(minutes=30),
    )

    assert health.provider_state(now).state == "ok"


def test_provider_without_any_call_is_idle():
    assert health.provider_state().state == "idle"


def test_a_beat_creates_the_dispatcher_row_if_needed_and_updates_it_after():
    health.beat()
    first = Dispatcher.objects.get().heartbeat_at

    health.beat()

    assert first is not None and Dispatcher.objects.get().heartbeat_at > first


def test_it_reports_the_circuit_breaker_when_it_is_open(client, db):
    Breaker.objects.create(
        opened_at=timezone.now(),
        next_probe_at=timezone.now() + timedelta(seconds=20),
        reason="HTTP 503: try again later",
    )

    provider = client.get("/health/").json()["provider"]

    assert provider["breaker"].startswith("Provider unreachable since ")
    assert provider["breaker"].endswith("0 orders waiting (HTTP 503: try again later)")
