"""Metrics: the web's /metrics (the database's figures, behind a bearer token) and the
cluster's endpoint (the provider calls), scraped while a small batch is sent.

The scrape runs inside a placeorder call (the client's HTTP post is wrapped), so it sees the
batch mid-way: a call in flight, orders claimed, the queue not yet empty. The driver runs in
this process, so the cluster's endpoint serves this process's registry (no multiprocess
directory): the same code path as a qcluster's main process, one process instead of many.
"""

import socket
import socketserver
from datetime import timedelta
from functools import partialmethod

import pytest
import requests
from django.test import Client
from django.utils import timezone
from prometheus_client.exposition import ThreadingWSGIServer
from prometheus_client.parser import text_string_to_metric_families

import submissions.driver
from orders.models import Batch, Order
from submissions import exporter
from submissions.provider import GsmFusionClient
from tests.fixtures.factories import make_batch

TOKEN = "scrape-token-0123456789"


@pytest.fixture(autouse=True)
def metrics_on(settings):
    settings.METRICS_TOKEN = TOKEN


def scrape(client=None):
    client = client or Client()
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    return response.content.decode()


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def cluster_endpoint(settings, monkeypatch):
    """The qcluster's endpoint, as `manage.py qcluster` starts it; its URL. Its server looks
    for a shutdown every 10 ms instead of 0.5 s, so that the test stops it at once."""
    quick = partialmethod(socketserver.BaseServer.serve_forever, poll_interval=0.01)
    monkeypatch.setattr(ThreadingWSGIServer, "serve_forever", quick)
    settings.METRICS_PORT = free_port()
    server = exporter.serve()
    yield f"http://127.0.0.1:{settings.METRICS_PORT}/metrics"
    server.shutdown()
    server.server_close()


def scrape_both(cluster_url):
    session = requests.Session()
    session.trust_env = False
    return scrape() + session.get(cluster_url, timeout=10).text


def samples(text):
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(parsed, name, **labels):
    return parsed.get((name, tuple(sorted(labels.items()))), 0.0)


class ScrapingClient(GsmFusionClient):
    """The real client, scraping /metrics from inside its `scrape_at`-th placeorder call."""

    scrape_at = 3
    scraped = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.calls = 0
        post = self.session.post

        def post_and_scrape(url, data, **kwargs):
            if data["action"] == "placeorder":
                self.calls += 1
                if self.calls == self.scrape_at:
                    self.scraped = scrape_both(self.cluster_url)
            return post(url, data=data, **kwargs)

        self.session.post = post_and_scrape


@pytest.mark.django_db(transaction=True)  # the call threads' scrape reads committed rows
def test_a_scrape_during_a_small_batch_counts_calls_queue_and_orders(
    make_fake_provider, settings, monkeypatch, cluster_endpoint, clock
):
    monkeypatch.setattr(submissions.driver, "enqueue", lambda: None)
    settings.SUBMIT_CONCURRENCY = 1  # one call at a time: the third call sees two placed
    make_fake_provider(clock=clock, latency=0.01, complete_after=60)
    batch = make_batch(orders=6, state=Batch.State.QUEUED)
    client = ScrapingClient.from_settings()
    client.cluster_url = cluster_endpoint
    before = samples(scrape_both(cluster_endpoint))

    submissions.driver.drive(deadline_seconds=5, client_factory=lambda: client, clock=clock)
    during, after = samples(client.scraped), samples(scrape_both(cluster_endpoint))

    placed = ("portal_provider_calls_total", {"action": "placeorder", "outcome": "placed"})
    assert value(during, placed[0], **placed[1]) - value(before, placed[0], **placed[1]) == 2
    assert value(after, placed[0], **placed[1]) - value(before, placed[0], **placed[1]) == 6
    in_flight = "portal_provider_calls_in_flight"
    assert value(during, in_flight, action="placeorder") == 1  # the call scraping
    assert value(after, in_flight, action="placeorder") == 0
    assert value(during, "portal_queued_orders") == 3  # 2 placed, the one in hand claimed
    assert value(during, "portal_orders", status="pending") == 2
    assert value(after, "portal_orders", status="pending") == 6
    assert value(after, "portal_queued_orders") == 0
    latency = "portal_provider_call_duration_seconds_count"
    assert (
        value(after, latency, action="placeorder") - value(before, latency, action="placeorder")
        == 6
    )
    assert value(after, "portal_spend_dollars", service=str(batch.service_id)) == pytest.approx(
        float(6 * batch.service.price)
    )
    assert value(after, "portal_breaker_open") == 0
    imeis = list(Order.objects.values_list("imei", flat=True))
    assert not any(imei in client.scraped + scrape_both(cluster_endpoint) for imei in imeis)


def test_a_scrape_without_the_token_is_refused(db):
    assert Client().get("/metrics").status_code == 401
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401


def test_without_a_token_configured_there_is_no_endpoint(db, settings):
    settings.METRICS_TOKEN = ""

    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 404


def test_the_oldest_queued_order_is_measured_in_live_batches_only(db):
    live = make_batch(orders=2, state=Batch.State.RUNNING)
    Order.objects.filter(batch=live).update(created_at=timezone.now() - timedelta(seconds=600))
    make_batch(orders=1, state=Batch.State.PAUSED)  # waits for a person, not for the workers
    Order.objects.filter(batch__state=Batch.State.PAUSED).update(
        created_at=timezone.now() - timedelta(days=3)
    )

    parsed = samples(scrape())

    assert 600 <= value(parsed, "portal_oldest_queued_order_age_seconds") < 660
    assert value(parsed, "portal_queued_orders") == 2
