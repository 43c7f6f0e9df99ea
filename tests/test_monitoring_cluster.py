"""The issue's "done when" checks, kept short: a real qcluster and the fake provider.

Health 200 with the cluster running and 503 once it is killed; one "unreachable" and one
"recovered" mail to a real SMTP server when the provider stops and comes back during a batch;
a JSON log line per placeorder; a concurrency lowered in the admin reaching the provider.
"""

import json
import time

import pytest
from django.contrib.auth.models import Permission

from devtools.fakefusion.server import FakeFusion
from orders.models import Batch, Order
from submissions import alerts, services
from submissions.models import ControlChange
from tests.fixtures.cluster import wait_for
from tests.fixtures.factories import make_batch
from tests.fixtures.provider import FAST

pytestmark = pytest.mark.cluster


def peak_over(fake, seconds):
    """The provider's peak of placeorders in flight during the next `seconds`."""
    fake.reset_peak()
    time.sleep(seconds)
    return fake.stats()["peak_inflight_placeorders"]


def placed_count():
    return Order.objects.exclude(remote_id=None).count()


def test_health_is_200_while_the_cluster_runs_and_503_once_it_is_killed(
    qcluster, make_fake_provider, client, settings
):
    settings.HEALTH_WORKER_STALE_SECONDS = 5  # a running driver beats every 2 s
    fake = make_fake_provider(latency=0.05, complete_after=120)  # results wait: driver polls
    batch = make_batch(orders=10, state=Batch.State.QUEUED)
    cluster = qcluster(fake)
    services.batch_created(batch)

    wait_for(lambda: client.get("/health/").status_code == 200, 30, "healthy with the cluster")
    cluster.kill()
    killed_at = time.monotonic()
    wait_for(lambda: client.get("/health/").status_code == 503, 20, "503 after the kill")

    assert time.monotonic() - killed_at < 20
    assert client.get("/health/").json() == {"status": "down"}


def test_a_provider_outage_during_a_batch_mails_unreachable_once_and_recovered_once(
    qcluster, make_fake_provider, smtp_sink, settings
):
    settings.ALERT_PROVIDER_DOWN_SECONDS = 2
    fake = make_fake_provider(latency=0.1, complete_after=0.3)
    port = fake.server.server_address[1]
    batch = make_batch(orders=60, state=Batch.State.QUEUED)
    qcluster(fake, SUBMIT_CONCURRENCY=3, SUBMIT_MAX_ATTEMPTS=10)
    services.batch_created(batch)
    wait_for(lambda: placed_count() >= 6, 30, "the first orders are placed")

    fake.stop()  # connection refused from now on
    wait_for(lambda: alerts.evaluate()["provider_down"], 30, "the outage is noticed", 0.5)
    for _ in range(6):  # it lasts: evaluated again and again, no second mail
        alerts.evaluate()
        time.sleep(0.5)

    revived = FakeFusion(
        port=port,
        username=settings.GSM_FUSION_USERNAME,
        api_key=settings.GSM_FUSION_API_KEY,
        **FAST,
    ).start()
    try:
        wait_for(lambda: not alerts.evaluate()["provider_down"], 40, "the recovery", 0.5)
        for _ in range(3):
            alerts.evaluate()
    finally:
        revived.stop()

    # One cause, one mail each way: nothing else (failure rate, unknown orders) was mailed.
    assert smtp_sink.subjects() == [
        "[IMEI portal] ALERT: Provider unreachable",
        "[IMEI portal] RECOVERED: Provider unreachable",
    ]
    assert "Meanwhile:" in smtp_sink.messages[-1]["message"].get_content()


def test_the_log_holds_one_json_placeorder_line_per_order(qcluster, make_fake_provider, settings):
    fake = make_fake_provider(latency=0.02, complete_after=0.2)
    batch = make_batch(orders=100, state=Batch.State.QUEUED)
    cluster = qcluster(fake, LOG_FORMAT="json", LOG_LEVEL="INFO", SUBMIT_CONCURRENCY=10)
    services.batch_created(batch)
    wait_for(lambda: placed_count() == 100, 60, "every order is placed")
    wait_for(lambda: '"event": "batch_finished"' in cluster.output(), 30, "the finish line")

    output = cluster.output()
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    calls = [line for line in lines if line.get("event") == "placeorder"]
    assert len(calls) == 100
    assert {c["imei"] for c in calls} == set(batch.orders.values_list("imei", flat=True))
    assert all(c["outcome"] == "placed" and c["latency_ms"] >= 0 for c in calls)
    (finished,) = [line for line in lines if line.get("event") == "batch_finished"]
    assert (finished["batch"], finished["orders"], finished["completed"]) == (batch.pk, 100, 100)
    assert settings.GSM_FUSION_API_KEY not in output


def test_lowering_the_concurrency_in_the_admin_reaches_the_provider_within_10_s(
    qcluster, make_fake_provider, client, django_user_model
):
    fake = make_fake_provider(latency=0.5, jitter=0.1, complete_after=60)
    batch = make_batch(orders=700, state=Batch.State.QUEUED)
    qcluster(fake, SUBMIT_CONCURRENCY=30)
    services.batch_created(batch)
    wait_for(lambda: fake.stats()["peak_inflight_placeorders"] >= 25, 30, "up to 30 in flight")

    operator = django_user_model.objects.create_user("op", password="x-pass-123", is_staff=True)
    operator.user_permissions.add(Permission.objects.get(codename="operate_sending"))
    client.force_login(operator)
    changed = client.post(
        "/admin/submissions/control/1/change/", {"concurrency": "5", "rate_per_minute": ""}
    )
    assert changed.status_code == 302
    changed_at = time.monotonic()

    wait_for(lambda: peak_over(fake, 1.5) <= 5, 10, "a peak of at most 5 in flight")

    assert time.monotonic() - changed_at < 10
    assert peak_over(fake, 1.5) == 5  # three rounds of 0.5 s calls: the cap, still sending
    assert ControlChange.objects.get().new_value == "5"
    assert Order.objects.filter(status=Order.Status.QUEUED).exists()  # still sending
