"""Load: staff importing at the same moment, and two worker clusters sharing one batch.

A cluster killed mid-batch and restarted is tests/test_processing_cluster.py's; here two live
clusters race for the same batch's orders.
"""

import html
import re
import threading

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

import submissions.driver
from orders.models import Batch, Order
from submissions import services
from tests.fixtures.cluster import wait_for
from tests.fixtures.factories import make_batch, make_service, valid_imei
from tests.fixtures.imports import CONFIRM_URL, csv_of, upload

STAFF = 5
ROWS = 300
CONFIRM_FORM = re.compile(f'<form action="{re.escape(CONFIRM_URL)}".*?</form>', re.DOTALL)
HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')


def confirm_as_the_page_shows(client, uploaded):
    """POST the confirm form's hidden fields read from the HTML.

    Not from response.context: the test client collects rendered templates through a global
    signal, so with requests on several threads a response can get another thread's context.
    """
    form = CONFIRM_FORM.search(uploaded.content.decode()).group(0)
    data = {name: html.unescape(value) for name, value in HIDDEN.findall(form)}
    return client.post(CONFIRM_URL, data)


def import_as(user, imeis, service, barrier, outcomes):
    """One staff member's upload and confirm, on this thread's own database connection."""
    try:
        client = Client()
        client.force_login(user)
        barrier.wait(timeout=30)
        uploaded = upload(client, csv_of(imeis), service, name=f"{user.username}.csv")
        outcomes[user.username] = confirm_as_the_page_shows(client, uploaded)
    except Exception as exc:  # reported by the test, with its user
        outcomes[user.username] = exc
    finally:
        connection.close()


def test_five_staff_importing_at_once_each_get_their_own_batch(
    transactional_db, django_user_model, monkeypatch
):
    enqueued = []
    monkeypatch.setattr(submissions.driver, "enqueue", lambda: enqueued.append(1))
    service = make_service()
    users = [
        django_user_model.objects.create_superuser(f"staff{n}", f"s{n}@example.com", "pass-123-x")
        for n in range(STAFF)
    ]
    files = {
        user.username: [valid_imei(n * 10_000 + i) for i in range(ROWS)]
        for n, user in enumerate(users)
    }
    barrier, outcomes = threading.Barrier(STAFF), {}
    threads = [
        threading.Thread(target=import_as, args=(u, files[u.username], service, barrier, outcomes))
        for u in users
    ]

    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert Batch.objects.count() == STAFF, outcomes
    for user in users:
        batch = Batch.objects.get(created_by=user)
        response = outcomes[user.username]
        assert not isinstance(response, Exception), response
        assert response.status_code == 302
        assert response.url == reverse("admin:orders_batch_change", args=[batch.pk])
        assert sorted(batch.orders.values_list("imei", flat=True)) == sorted(files[user.username])
    assert Order.objects.count() == STAFF * ROWS
    assert len(enqueued) == STAFF


@pytest.mark.cluster
def test_two_clusters_on_one_batch_place_every_order_once_within_the_cap(
    qcluster, make_fake_provider
):
    fake = make_fake_provider(latency=0.4, jitter=0.1, complete_after=0.3)
    batch = make_batch(orders=120, state=Batch.State.QUEUED)
    first = qcluster(fake, SUBMIT_CONCURRENCY=8, LOG_LEVEL="INFO")
    second = qcluster(fake, SUBMIT_CONCURRENCY=8, LOG_LEVEL="INFO")

    services.batch_created(batch)
    submissions.driver.enqueue()  # a second driver task at once: both clusters compete
    wait_for(
        lambda: Batch.objects.get(pk=batch.pk).state == Batch.State.DONE, 90, "the batch is done"
    )

    stats = fake.stats()
    assert (stats["orders_created"], stats["imeis_placed_more_than_once"]) == (120, 0)
    assert stats["imeis_sent_more_than_once"] == 0
    assert stats["peak_inflight_placeorders"] <= 8
    assert batch.orders.filter(status=Order.Status.COMPLETED).count() == 120
    recorded = dict(batch.orders.values_list("imei", "remote_id"))
    assert recorded == {o["imei"]: o["id"] for o in fake.orders()}
    # Both took part: one of them found the lease taken at least once.
    logs = first.output() + second.output()
    assert "Another driver holds the lease; exiting" in logs
