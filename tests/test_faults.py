"""The fault matrix: a REAL qcluster against the fake provider on loopback, one fault per test.

Each test checks what the operator sees (batch state and note, order statuses and last_error,
the batch page's progress JSON), that every order the fake created is recorded here with its
remote id or is `unknown`, that no IMEI reached the provider's order logic twice, and that the
batch finishes once the fault ends. Killing the cluster with SIGKILL is covered by
tests/test_processing_cluster.py::test_killing_the_cluster_mid_batch_places_no_imei_twice, and
an in-flight cap answered with 429s by its test_429_answers_lower_the_limit...; not repeated.
"""

import os
import sqlite3
import tempfile
import threading
import time

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from orders.models import Batch, Order
from submissions import services
from submissions.driver.claims import SWEPT_NOTE
from submissions.models import Dispatcher
from tests.fixtures.cluster import wait_for
from tests.fixtures.factories import make_batch, make_service, valid_imei
from tests.fixtures.imports import confirm, csv_of, upload

pytestmark = pytest.mark.cluster

Status = Order.Status
HTTP_429 = "HTTP 429: try again later"
HTTP_503 = "HTTP 503: try again later"


# -- helpers ------------------------------------------------------------------------------------


def start_batch(orders):
    batch = make_batch(orders=orders, state=Batch.State.QUEUED)
    services.batch_created(batch)  # autocommit: the driver task is enqueued at once
    return batch


def state_of(batch):
    return Batch.objects.get(pk=batch.pk).state


def wait_until_done(batch, timeout):
    wait_for(lambda: state_of(batch) == Batch.State.DONE, timeout, f"batch {batch.pk} is done")
    batch.refresh_from_db()


def statuses(batch):
    counts = {}
    for status in batch.orders.values_list("status", flat=True):
        counts[status] = counts.get(status, 0) + 1
    return counts


def progress(client, batch):
    response = client.get(reverse("admin:orders_batch_progress", args=[batch.pk]))
    assert response.status_code == 200
    return response.json()


def error_texts(payload):
    return [group["error"] for group in payload["errors"]]


def placed_count(batch):
    return batch.orders.exclude(remote_id=None).count()


def has_error(batch, text):
    return batch.orders.filter(last_error__startswith=text).exists()


def assert_provider_and_database_agree(fake, batch, placed_more_than_once=0):
    """Every order the fake created is ours with its remote id, or `unknown` here; no IMEI was
    placed twice; no remote id is recorded that the fake does not hold."""
    ours = {o.imei: o for o in batch.orders.all()}
    remote = fake.orders()
    for created in remote:
        order = ours[created["imei"]]
        assert order.remote_id == created["id"] or order.status == Status.UNKNOWN, created
    held = {(o["imei"], o["id"]) for o in remote}
    recorded = {(o.imei, o.remote_id) for o in ours.values() if o.remote_id is not None}
    assert recorded <= held
    assert len({o["imei"] for o in remote}) == len(remote)
    assert fake.stats()["imeis_placed_more_than_once"] == placed_more_than_once


def after(seconds, action):
    """Run `action` in `seconds` on a thread (the fault ends while the test is waiting)."""
    timer = threading.Timer(seconds, action)
    timer.start()
    return timer


# -- the provider throttles, fails, is down, is slow, talks garbage ----------------------------


def test_a_429_storm_is_shown_then_every_order_is_placed_once(
    qcluster, make_fake_provider, staff_client
):
    fake = make_fake_provider(rate_limit=2, complete_after=0.3)
    qcluster(fake, SUBMIT_MAX_ATTEMPTS=8)
    batch = start_batch(40)
    wait_for(lambda: has_error(batch, HTTP_429), 60, "429s are recorded on queued orders")

    during = progress(staff_client, batch)
    fake.rate_limit = None  # the storm ends
    wait_until_done(batch, 60)

    assert during["state"] == Batch.State.RUNNING
    assert HTTP_429 in error_texts(during)
    assert fake.stats()["rejected_429"] > 0
    assert Dispatcher.get().last_throttled_at is not None
    assert statuses(batch) == {Status.COMPLETED: 40}
    assert progress(staff_client, batch)["errors"] == []  # placing clears last_error
    assert_provider_and_database_agree(fake, batch)


def test_503s_are_retried_with_backoff_and_nothing_is_placed_twice(
    qcluster, make_fake_provider, staff_client
):
    fake = make_fake_provider(fail_rate=1.0, complete_after=0.3)
    # Five 503s in a row open the circuit breaker (tests/test_unattended_cluster.py): then
    # one probe a second, instead of retrying every order.
    qcluster(fake, BREAKER_FIRST_PROBE_SECONDS=1, BREAKER_MAX_PROBE_SECONDS=1)
    batch = start_batch(30)
    wait_for(lambda: fake.stats()["failed_503"] >= 10, 60, "the provider answers 503")

    during = progress(staff_client, batch)
    fake.fail_rate = 0.0
    wait_until_done(batch, 60)

    assert HTTP_503 in error_texts(during)
    assert statuses(batch) == {Status.COMPLETED: 30}
    assert fake.stats()["orders_created"] == 30
    assert_provider_and_database_agree(fake, batch)


def test_a_batch_started_while_the_provider_is_down_completes_once_it_is_up(
    qcluster, make_fake_provider, staff_client
):
    down = make_fake_provider()
    port = down.server.server_address[1]
    down.stop()  # connection refused from now on
    qcluster(down)
    batch = start_batch(30)
    wait_for(lambda: has_error(batch, "Could not connect"), 60, "refused calls are recorded")

    during = progress(staff_client, batch)
    fake = make_fake_provider(port=port, complete_after=0.3)
    wait_until_done(batch, 60)

    assert during["state"] == Batch.State.RUNNING
    assert any(text.startswith("Could not connect") for text in error_texts(during))
    assert statuses(batch) == {Status.COMPLETED: 30}
    assert fake.stats()["orders_created"] == 30
    assert_provider_and_database_agree(fake, batch)


def test_read_timeouts_make_orders_unknown_and_they_are_never_sent_again(
    qcluster, make_fake_provider, staff_client, staff_user
):
    fake = make_fake_provider(timeout_rate=0.3, complete_after=0.3)
    qcluster(fake, GSM_FUSION_READ_TIMEOUT=1)
    batch = start_batch(30)
    wait_until_done(batch, 60)

    stats = fake.stats()
    unknown = batch.orders.filter(status=Status.UNKNOWN)
    assert unknown.count() == stats["timed_out"] > 0
    assert statuses(batch) == {
        Status.COMPLETED: 30 - unknown.count(),
        Status.UNKNOWN: unknown.count(),
    }
    assert all(
        e.startswith("No answer in time") for e in unknown.values_list("last_error", flat=True)
    )
    assert stats["imeis_sent_more_than_once"] == 0  # never re-sent
    assert stats["orders_created"] == 30  # every one of them was placed
    assert_provider_and_database_agree(fake, batch)
    payload = progress(staff_client, batch)
    assert payload["counts"][Status.UNKNOWN] == unknown.count()

    # The operator knowingly re-sends them: each answers "IMEI already exists!", is recorded as
    # placed once (charged once, id unknown), and the provider creates nothing new.
    unknown_ids = list(unknown.values_list("pk", flat=True))
    services.resubmit_failed(batch.orders.all(), staff_user, include_unknown=True)
    wait_until_done(batch, 30)
    resent = Order.objects.filter(pk__in=unknown_ids)
    assert set(resent.values_list("status", "placed_without_id")) == {(Status.DUPLICATE, True)}
    assert fake.stats()["orders_created"] == 30


def test_malformed_answers_make_placed_orders_unknown_and_polls_try_again(
    qcluster, make_fake_provider
):
    fake = make_fake_provider(garbage_rate=0.3, complete_after=0.3)
    qcluster(fake)
    batch = start_batch(30)
    wait_until_done(batch, 60)

    unknown = batch.orders.filter(status=Status.UNKNOWN)
    assert 0 < unknown.count() < 30
    assert statuses(batch) == {
        Status.COMPLETED: 30 - unknown.count(),
        Status.UNKNOWN: unknown.count(),
    }
    assert all(
        error.startswith("Unreadable placeorder answer (not XML")
        for error in unknown.values_list("last_error", flat=True)
    )
    stats = fake.stats()
    assert stats["garbled"] >= unknown.count()  # getimeis answers may be cut short too
    assert (stats["orders_created"], stats["imeis_sent_more_than_once"]) == (30, 0)
    assert_provider_and_database_agree(fake, batch)


# -- our credentials are refused mid-batch ------------------------------------------------------


def test_a_changed_api_key_pauses_the_batch_and_a_resume_after_the_fix_finishes_it(
    qcluster, make_fake_provider, staff_client, settings
):
    fake = make_fake_provider(latency=0.3, complete_after=0.3)
    qcluster(fake, SUBMIT_CONCURRENCY=4)
    batch = start_batch(40)
    wait_for(lambda: placed_count(batch) >= 8, 60, "the first orders are placed")

    fake.change_api_key("NEW0-NEW0-NEW0-NEW0-NEW0")
    wait_for(lambda: state_of(batch) == Batch.State.PAUSED, 60, "the batch is paused")
    wait_for(lambda: not Order.objects.in_flight().exists(), 30, "in-flight calls recorded")

    payload = progress(staff_client, batch)
    note = "Provider rejected our credentials: Invalid API Key! — fix GSM_FUSION_* and resume."
    assert (payload["state"], payload["note"]) == (Batch.State.PAUSED, note)
    counts = statuses(batch)
    assert Status.FAILED not in counts and Status.UNKNOWN not in counts
    assert counts[Status.QUEUED] > 0
    released = batch.orders.filter(events__detail="Not sent: Invalid API Key!").distinct()

    fake.change_api_key(settings.GSM_FUSION_API_KEY)  # the key is fixed
    changelist = reverse("admin:orders_batch_changelist")
    response = staff_client.post(
        changelist, {"action": "resume_batches", "_selected_action": [batch.pk]}
    )
    assert response.status_code == 302
    wait_until_done(batch, 60)

    assert batch.note == ""
    assert statuses(batch) == {Status.COMPLETED: 40}
    assert fake.stats()["orders_created"] == 40
    # The fake counts a call refused for its key as having reached it: those IMEIs, and only
    # those, were sent again after the resume.
    assert_provider_and_database_agree(fake, batch, placed_more_than_once=released.count())


# -- the database is busy or drops our connections ----------------------------------------------


def hold_sqlite_write_lock(path, seconds):
    lock = sqlite3.connect(path, timeout=30, isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")
    time.sleep(seconds)
    lock.execute("COMMIT")
    lock.close()


def terminate_other_connections(times, gap):
    """pg_terminate_backend on every connection to the test database but this one."""
    with connection.cursor() as cursor:
        for _ in range(times):
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            time.sleep(gap)


def test_a_busy_or_dropped_database_delays_the_batch_but_loses_no_answer(
    qcluster, make_fake_provider
):
    fake = make_fake_provider(latency=0.2, complete_after=0.3)
    cluster = qcluster(fake, SUBMIT_CONCURRENCY=6)
    batch = start_batch(60)
    wait_for(lambda: placed_count(batch) >= 10, 60, "the first orders are placed")

    if connection.vendor == "sqlite":
        hold_sqlite_write_lock(connection.settings_dict["NAME"], seconds=4)
    else:
        terminate_other_connections(times=3, gap=0.7)
    wait_until_done(batch, 60)

    assert statuses(batch) == {Status.COMPLETED: 60}, cluster.output()[-3000:]
    assert fake.stats()["orders_created"] == 60
    assert_provider_and_database_agree(fake, batch)
    assert not batch.orders.filter(last_error=SWEPT_NOTE).exists()


# -- the web process restarts between upload and confirm ----------------------------------------


def logged_in(user):
    """A browser session on a freshly started web process: nothing shared but the database."""
    client = Client()
    client.force_login(user)
    return client


def test_a_web_restart_between_upload_and_confirm_creates_the_batch_exactly_once(
    qcluster, make_fake_provider, staff_user
):
    fake = make_fake_provider(complete_after=0.3)
    qcluster(fake)
    imeis = [valid_imei(900 + i) for i in range(20)]
    old_tab = logged_in(staff_user)
    uploaded = upload(old_tab, csv_of(imeis), make_service())

    confirmed = confirm(logged_in(staff_user), uploaded)
    again = confirm(old_tab, uploaded)  # the old tab's button, after the restart

    batch = Batch.objects.get()
    assert confirmed.url == reverse("admin:orders_batch_change", args=[batch.pk])
    assert again.status_code == 302
    assert "already confirmed or has expired" in " ".join(
        str(m) for m in again.wsgi_request._messages
    )
    wait_until_done(batch, 30)
    assert statuses(batch) == {Status.COMPLETED: 20}
    assert sorted(o["imei"] for o in fake.orders()) == sorted(imeis)
    assert_provider_and_database_agree(fake, batch)


def test_an_upload_lost_with_the_restart_is_refused_cleanly(staff_user, service):
    uploaded = upload(logged_in(staff_user), csv_of([valid_imei(1)]), service)
    stored = uploaded.context["confirm_form"]["import_file_name"].value()
    os.remove(os.path.join(tempfile.gettempdir(), stored))  # /tmp was emptied by the restart

    response = confirm(logged_in(staff_user), uploaded)

    assert response.status_code == 302
    assert response.url == reverse("admin:orders_order_import")
    assert (Batch.objects.count(), Order.objects.count()) == (0, 0)
