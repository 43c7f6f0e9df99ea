"""/health/: no login, only ok / degraded (200) or down (503), over plain HTTP too;
/health/details/: the full report, for staff."""

import logging
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from orders.models import Batch, Order
from portal import health as health_view
from submissions import health
from submissions.models import Breaker, Control, Dispatcher
from tests.fixtures.factories import make_batch, make_order

pytestmark = pytest.mark.django_db


def heartbeat(seconds_ago):
    Dispatcher.objects.update_or_create(
        pk=1, defaults={"heartbeat_at": timezone.now() - timedelta(seconds=seconds_ago)}
    )


def test_it_answers_200_ok_without_login_when_a_cluster_beats(client):
    heartbeat(5)

    response = client.get("/health/")

    assert (response.status_code, response.json()) == (200, {"status": "ok"})
    assert response["Cache-Control"].startswith("max-age=0")


def test_anonymous_callers_get_the_status_alone(client, settings):
    make_order(status=Order.Status.UNKNOWN, last_error="secret-ish 355473496054560")
    Dispatcher.objects.create(
        pk=1, last_error=f"Invalid API Key! {settings.GSM_FUSION_API_KEY}", heartbeat_at=None
    )
    Dispatcher.objects.update(last_error_at=timezone.now())

    response = client.get("/health/")

    assert (response.status_code, response.json()) == (503, {"status": "down"})


def test_it_answers_over_plain_http_with_the_secure_settings_on(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    heartbeat(5)

    assert client.get("/health/").status_code == 200
    assert client.get("/admin/login/").status_code == 301  # everything else is redirected


def test_it_answers_503_down_when_no_cluster_ever_beat(client, staff_client):
    response = client.get("/health/")

    assert (response.status_code, response.json()) == (503, {"status": "down"})


def test_a_503_is_logged_as_a_warning_without_a_traceback(client, caplog):
    with caplog.at_level(logging.INFO):
        client.get("/health/")

    logged = [(r.name, r.levelname, r.exc_info) for r in caplog.records]
    assert logged == [("portal.health", "WARNING", None)]


def test_it_answers_503_once_the_heartbeat_is_older_than_the_threshold(client, settings):
    settings.HEALTH_WORKER_STALE_SECONDS = 60
    heartbeat(61)

    assert client.get("/health/").status_code == 503


def test_a_dead_cluster_is_seen_within_60_seconds_by_default(settings):
    # The qcluster's main process beats every 15 s (BEAT_SECONDS): three beats missed.
    from submissions.management.commands.qcluster import BEAT_SECONDS

    assert (settings.HEALTH_WORKER_STALE_SECONDS, BEAT_SECONDS) == (45, 15)


def test_it_answers_503_when_work_waits_and_no_driver_was_seen(staff_client, settings):
    settings.HEALTH_DRIVER_STALE_SECONDS = 30
    make_batch(orders=3, state=Batch.State.RUNNING)
    heartbeat(40)  # the cluster beat 40 s ago (alive), but no driver since

    body = staff_client.get("/health/details/")

    assert body.status_code == 503
    assert body.json()["workers"]["work_waiting_without_driver"] is True


def test_a_live_driver_lease_covers_the_moment_between_two_heartbeats(client, settings):
    settings.HEALTH_DRIVER_STALE_SECONDS = 30
    make_batch(orders=3, state=Batch.State.RUNNING)
    heartbeat(40)  # alive (45 s), but older than HEALTH_DRIVER_STALE_SECONDS
    Dispatcher.objects.update(driver_expires_at=timezone.now() + timedelta(seconds=20))

    assert client.get("/health/").status_code == 200


def test_paused_work_is_not_work_waiting(staff_client):
    make_batch(orders=3, state=Batch.State.PAUSED)
    heartbeat(100)

    assert staff_client.get("/health/details/").json()["workers"]["work_waiting"] is False


def test_it_is_degraded_but_200_while_the_provider_is_down(client, settings):
    settings.ALERT_PROVIDER_DOWN_SECONDS = 60
    now = timezone.now()
    heartbeat(5)
    Dispatcher.objects.update(
        last_success_at=now - timedelta(hours=1),
        last_error="transient: Could not connect: refused",
        last_error_at=now - timedelta(seconds=5),
    )

    response = client.get("/health/")

    assert (response.status_code, response.json()) == (200, {"status": "degraded"})


def test_it_is_degraded_while_the_breaker_is_open(client):
    heartbeat(5)
    Breaker.objects.create(pk=1, opened_at=timezone.now(), reason="HTTP 503")

    assert client.get("/health/").json() == {"status": "degraded"}


def test_it_is_degraded_while_sending_is_stopped(client):
    heartbeat(5)
    Control.objects.create(pk=1, sending_stopped=True)

    assert client.get("/health/").json() == {"status": "degraded"}


def test_details_need_a_staff_login(client):
    response = client.get("/health/details/")

    assert (response.status_code, response["Location"]) == (
        302,
        "/admin/login/?next=/health/details/",
    )


def test_details_show_staff_the_provider_host_the_error_text_and_the_queue(
    staff_client, monkeypatch, settings
):
    heartbeat(1)
    make_batch(orders=3, state=Batch.State.RUNNING)

    def broken():
        raise RuntimeError("connection to redis.internal refused")

    broken.__name__ = "check_cache"
    monkeypatch.setattr(health_view, "check_cache", broken)
    body = staff_client.get("/health/details/").json()

    assert (body["status"], body["cache"], body["database"]) == ("down", False, True)
    assert body["errors"] == {"check_cache": "RuntimeError: connection to redis.internal refused"}
    assert body["provider_host"] == "127.0.0.1"
    assert body["orders"] == {"queued": 3, "submitting": 0, "pending": 0, "in_process": 0}
    assert body["provider"]["state"] == "idle"


def test_a_failing_database_check_is_down_without_the_exception_text(client, monkeypatch):
    heartbeat(1)

    def broken():
        raise RuntimeError("password=hunter2 at db.internal")

    broken.__name__ = "check_database"
    monkeypatch.setattr(health_view, "check_database", broken)
    response = client.get("/health/")

    assert (response.status_code, response.json()) == (503, {"status": "down"})


def test_it_reads_a_few_rows_at_most_with_work_in_the_tables(client):
    """Its cost does not grow with the tables: each read of orders or events stops at a row."""
    make_batch(orders=500, state=Batch.State.RUNNING)
    heartbeat(1)

    with CaptureQueriesContext(connection) as queries:
        assert client.get("/health/").status_code == 200

    reads = [q["sql"] for q in queries.captured_queries if '"orders_order' in q["sql"]]
    assert len(queries.captured_queries) == 7
    assert len(reads) == 3
    assert all(sql.endswith("LIMIT 1") for sql in reads)


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


def test_details_report_the_circuit_breaker_when_it_is_open(staff_client):
    Breaker.objects.create(
        opened_at=timezone.now(),
        next_probe_at=timezone.now() + timedelta(seconds=20),
        reason="HTTP 503: try again later",
    )

    provider = staff_client.get("/health/details/").json()["provider"]

    assert provider["breaker"].startswith("Provider unreachable since ")
    assert provider["breaker"].endswith("0 orders waiting (HTTP 503: try again later)")


def test_the_qcluster_main_process_beats_every_15_s_until_its_sentinel_exits():
    from submissions.management.commands.qcluster import beat_while_alive

    class Sentinel:
        def __init__(self):
            self.answers, self.waits, self.beats = [True, True, False], [], []

        def is_alive(self):
            return self.answers.pop(0)

        def join(self, timeout):
            self.waits.append(timeout)
            beat = Dispatcher.objects.get().heartbeat_at
            self.beats.append(timezone.now() - beat < timedelta(seconds=5))
            Dispatcher.objects.update(heartbeat_at=None)  # each wait: a beat is due again

    class Cluster:
        sentinel = Sentinel()

    heartbeat(300)
    beat_while_alive(Cluster)

    assert (Cluster.sentinel.waits, Cluster.sentinel.beats) == ([15, 15], [True, True])
    assert Dispatcher.objects.get().heartbeat_at is None  # none after the sentinel exited
