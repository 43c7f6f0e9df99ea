"""One INFO line per provider call, batch start/finish lines, plain or JSON, never the key."""

import json
import logging

import pytest
from django.conf import settings as django_settings
from pythonjsonlogger.json import JsonFormatter

import submissions.driver
from orders.models import Batch
from submissions.driver import drive
from submissions.provider import GsmFusionClient, ProviderError
from tests.fixtures.driver import ScriptedClient, error, run
from tests.fixtures.factories import make_batch

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_driver(monkeypatch, settings):
    monkeypatch.setattr(submissions.driver, "enqueue", lambda: None)
    monkeypatch.setattr(submissions.driver.loop, "HOUSEKEEPING_SECONDS", 0.05)
    monkeypatch.setattr(submissions.driver.sending, "IDLE_CLAIM_SECONDS", 0.05)
    settings.STATUS_POLL_SECONDS = 0.1


def call_records(caplog, event):
    return [r for r in caplog.records if r.name == "submissions.calls" and r.event == event]


def test_each_placeorder_call_logs_one_info_line_with_its_outcome(caplog):
    caplog.set_level(logging.INFO, logger="submissions.calls")
    batch = make_batch(orders=3, state=Batch.State.QUEUED)
    imeis = list(batch.orders.order_by("id").values_list("imei", flat=True))
    client = ScriptedClient(
        script={imeis[1]: [error(ProviderError.TRANSIENT, "HTTP 502: try again later", 502)]},
        remote_status="Completed",
    )

    run(client, seconds=0.6)

    lines = call_records(caplog, "placeorder")
    assert len(lines) == 3  # the retried order waits 2 s: not sent again within the run
    by_imei = {r.imei: r for r in lines}
    placed, retried = by_imei[imeis[0]], by_imei[imeis[1]]
    assert (placed.levelname, placed.outcome, placed.http, placed.cost) == (
        "INFO",
        "placed",
        200,
        "0.08",
    )
    first = batch.orders.get(imei=imeis[0])
    assert (placed.batch, placed.order, placed.status) == (batch.pk, first.pk, "pending")
    assert placed.remote_id == first.remote_id
    assert placed.latency_ms >= 0
    assert (retried.outcome, retried.http, retried.status, retried.cost) == (
        "transient",
        502,
        "queued",
        "0.00",
    )
    message = placed.getMessage()
    assert message.startswith(f"placeorder order={placed.order} batch={batch.pk} imei={imeis[0]}")
    assert " http=200 outcome=placed status=pending latency_ms=" in message


def test_a_batch_logs_its_start_and_its_finish_with_totals(caplog):
    caplog.set_level(logging.INFO, logger="submissions.calls")
    batch = make_batch(orders=2, state=Batch.State.QUEUED)

    run(ScriptedClient(remote_status="Completed"), seconds=1.0)

    (started,) = call_records(caplog, "batch_started")
    (finished,) = call_records(caplog, "batch_finished")
    assert (started.batch, started.orders) == (batch.pk, 2)
    assert (finished.batch, finished.orders, finished.completed, finished.failed) == (
        batch.pk,
        2,
        2,
        0,
    )
    assert finished.spend == "0.16"
    assert call_records(caplog, "getimeis")[0].outcome == "ok"


def test_with_log_format_json_each_line_is_a_json_object_with_the_fields(caplog):
    caplog.set_level(logging.INFO, logger="submissions.calls")
    make_batch(orders=1, state=Batch.State.QUEUED)
    run(ScriptedClient(), seconds=0.3)
    (record,) = call_records(caplog, "placeorder")
    config = django_settings.LOGGING["formatters"]["json"]
    formatter = JsonFormatter(config["format"], rename_fields=config["rename_fields"])

    line = json.loads(formatter.format(record))

    assert (line["level"], line["logger"], line["event"], line["outcome"]) == (
        "INFO",
        "submissions.calls",
        "placeorder",
        "placed",
    )
    assert isinstance(line["latency_ms"], int) and line["http"] == 200


def test_the_api_key_never_appears_in_the_log_of_real_calls(
    caplog, make_fake_provider, clock, settings
):
    make_fake_provider(clock=clock)
    caplog.set_level(logging.DEBUG)
    settings.GSM_FUSION_READ_TIMEOUT = 5
    make_batch(orders=3, state=Batch.State.QUEUED)

    drive(deadline_seconds=1.0, client_factory=GsmFusionClient.from_settings, clock=clock)

    assert len(call_records(caplog, "placeorder")) == 3
    assert settings.GSM_FUSION_API_KEY not in caplog.text
    assert all(settings.GSM_FUSION_API_KEY not in str(vars(r)) for r in caplog.records)
