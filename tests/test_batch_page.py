"""The batch page and its progress.json: exact numbers from a few aggregate queries."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from orders.models import Batch, Order
from portal.admin.stats import percent, percentile
from submissions.models import Dispatcher
from tests.fixtures.factories import make_batch, make_service
from tests.fixtures.pages import add_call_events, set_status

S = Order.Status


def progress_url(batch):
    return f"/admin/orders/batch/{batch.pk}/progress.json"


def page_url(batch):
    return f"/admin/orders/batch/{batch.pk}/change/"


@pytest.fixture
def busy_batch(db):
    """100 orders: 60 completed, 10 rejected, 10 pending, 5 submitting, 15 queued."""
    now = timezone.now()
    batch = make_batch(orders=100, created_at=now - timedelta(minutes=10))
    done = set_status(batch, S.COMPLETED, 60, submitted_at=now, finished_at=now, cost="0.08")
    set_status(batch, S.REJECTED, 10, finished_at=now, cost="0.08", last_error="Rejected: X")
    pending = set_status(batch, S.PENDING, 10, submitted_at=now, cost="0.08")
    set_status(batch, S.SUBMITTING, 5)
    times = [now - timedelta(seconds=70 - i) for i in range(70)]
    add_call_events(done + pending, [100 * (i + 1) for i in range(70)], at=times)
    return batch


def test_progress_json_gives_exact_counts(staff_client, busy_batch):
    data = staff_client.get(progress_url(busy_batch)).json()

    assert data["counts"] == {
        "queued": 15,
        "submitting": 5,
        "pending": 10,
        "in_process": 0,
        "completed": 60,
        "rejected": 10,
        "duplicate": 0,
        "failed": 0,
        "unknown": 0,
        "cancelled": 0,
    }
    assert (data["total"], data["sent"], data["final"], data["open"]) == (100, 80, 70, 30)
    assert (data["sent_percent"], data["final_percent"]) == (80.0, 70.0)


def test_progress_json_gives_pace_latency_eta_and_cost(staff_client, busy_batch):
    data = staff_client.get(progress_url(busy_batch)).json()

    # 70 calls over the last 70 seconds (one a second): 69 intervals in ~70 s.
    assert data["throughput_per_minute"] == pytest.approx(59.1, abs=0.3)
    assert data["results_per_minute"] is None  # no result has come in yet
    assert (data["latency_p50_ms"], data["latency_p95_ms"], data["latency_calls"]) == (
        3500,
        6700,
        70,
    )
    assert data["eta_send_seconds"] == pytest.approx(20 / 59.1 * 60, abs=1)
    assert data["eta_results_seconds"] is None
    assert (data["cost_so_far"], data["cost_expected"]) == ("6.40", "8.00")
    assert data["concurrency"] == 30
    assert data["rate_limit_per_minute"] is None
    assert data["display"]["eta_send"] == "about 20 s"
    assert data["display"]["eta_results"] == "measuring…"


def test_rates_run_over_the_time_actually_observed(staff_client, db):
    """A batch sending for 20 s is measured over those 20 s, not spread over 5 minutes."""
    now = timezone.now()
    batch = make_batch(orders=300, started_at=now - timedelta(seconds=25))
    ids = set_status(batch, S.PENDING, 101, submitted_at=now)
    add_call_events(ids, [1000] * 101, at=[now - timedelta(seconds=i / 5) for i in range(101)])

    data = staff_client.get(progress_url(batch)).json()

    assert data["throughput_per_minute"] == pytest.approx(300.0, rel=0.02)  # 5 a second
    assert data["eta_send_seconds"] == pytest.approx(199 / 5, abs=1)


def test_a_stalled_batch_slows_down_instead_of_keeping_its_old_rate(staff_client, db):
    now = timezone.now()
    batch = make_batch(orders=100, started_at=now - timedelta(minutes=4))
    ids = set_status(batch, S.PENDING, 21, submitted_at=now)
    stalled = now - timedelta(minutes=3)
    add_call_events(ids, [1000] * 21, at=[stalled - timedelta(seconds=i) for i in range(21)])

    data = staff_client.get(progress_url(batch)).json()

    assert data["throughput_per_minute"] == pytest.approx(20 / 200 * 60, abs=0.1)


def test_no_rate_and_no_eta_from_too_few_calls(staff_client, db):
    batch = make_batch(orders=50)
    ids = set_status(batch, S.PENDING, 3)
    add_call_events(ids, [1000] * 3, at=timezone.now() - timedelta(seconds=30))

    data = staff_client.get(progress_url(batch)).json()

    assert (data["throughput_per_minute"], data["eta_send_seconds"]) == (None, None)
    assert data["display"]["eta_send"] == "measuring…"


def test_a_finished_batch_says_when_it_finished_and_how_long_it_took(staff_client, db):
    now = timezone.now()
    batch = make_batch(
        orders=4,
        state=Batch.State.DONE,
        started_at=now - timedelta(minutes=20),
        finished_at=now - timedelta(minutes=13, seconds=55),
    )
    set_status(batch, S.COMPLETED, 4)

    data = staff_client.get(progress_url(batch)).json()

    assert (data["took_seconds"], data["eta_send_seconds"]) == (365, None)
    assert data["display"]["when"].startswith("done at ")
    assert data["display"]["when"].endswith(", took 6 min 05 s")
    assert (data["display"]["eta_send"], data["display"]["eta_results"]) == ("all sent", "all in")
    assert data["display"]["throughput"] == "0.7 / min on average"


def test_a_cancelled_batch_counts_only_what_was_really_sent(staff_client, db):
    batch = make_batch(orders=100)
    set_status(batch, S.COMPLETED, 7, cost="0.08")
    batch.cancel("Stopped by an operator")
    set_status(batch, S.CANCELLED, 93)

    data = staff_client.get(progress_url(batch)).json()
    html = staff_client.get(page_url(batch)).content.decode()

    assert (data["sent"], data["sent_percent"], data["counts"]["cancelled"]) == (7, 7.0, 93)
    assert data["display"]["eta_send"] == "all sent"
    assert (data["cost_so_far"], data["cost_expected"]) == ("0.56", "0.56")
    assert '<span data-progress="sent_percent">7.0 %</span>' in html
    assert [(seg["name"], seg["count"], seg["width"]) for seg in data["segments"]] == [
        ("completed", 7, 7.0),
        ("rejected", 0, 0),
        ("failed", 0, 0),
        ("cancelled", 93, 93.0),
    ]
    assert 'class="bar-seg seg-cancelled" data-seg="cancelled" title="93 cancelled"' in html


def test_it_never_shows_100_percent_while_one_order_is_open(staff_client, db):
    batch = make_batch(orders=2000)
    set_status(batch, S.COMPLETED, 1999)

    data = staff_client.get(progress_url(batch)).json()

    assert (data["final"], data["final_percent"], data["open"]) == (1999, 99.9, 1)
    assert data["display"]["final_percent"] == "99.9 %"
    assert data["sent_percent"] == 99.9


def test_percent_is_floored_and_reaches_100_only_when_complete():
    assert percent(19_999, 20_000) == 99.9
    assert percent(20_000, 20_000) == 100.0
    assert percent(1, 3) == 33.3
    assert percent(0, 0) == 0.0


def test_percentile_is_nearest_rank():
    values = list(range(1, 101))
    assert (percentile(values, 50), percentile(values, 95)) == (50, 95)
    assert percentile([7], 95) == 7
    assert percentile([], 50) is None


def test_latency_comes_from_the_last_1000_calls_only(staff_client, db):
    batch = make_batch(orders=1200)
    ids = list(batch.orders.values_list("pk", flat=True))
    old = timezone.now() - timedelta(hours=1)
    add_call_events(ids[:200], [90_000] * 200, at=old)  # older calls, slow: out of the sample
    add_call_events(ids[200:], [1000] * 1000)

    data = staff_client.get(progress_url(batch)).json()

    assert (data["latency_p95_ms"], data["latency_calls"]) == (1000, 1000)


def test_eta_falls_back_to_latency_and_concurrency_before_a_rate_is_measured(
    staff_client, settings
):
    settings.SUBMIT_RATE_PER_MINUTE = 120
    batch = make_batch(orders=600)
    ids = set_status(batch, S.PENDING, 10)
    add_call_events(ids, [15_000] * 10)  # all just now: no time span to measure a rate over
    Dispatcher.objects.create(pk=1, effective_concurrency=10)

    data = staff_client.get(progress_url(batch)).json()

    assert data["throughput_per_minute"] is None
    assert data["eta_send_seconds"] == 590 * 15 // 10  # queued x mean latency / concurrency
    assert data["eta_results_seconds"] is None
    assert (data["concurrency"], data["rate_limit_per_minute"]) == (10, 120)
    assert data["display"]["rate_limit"] == "120 / min"


def test_progress_json_costs_a_handful_of_queries(staff_client, db, django_assert_max_num_queries):
    batch = make_batch(orders=3000)
    set_status(batch, S.COMPLETED, 1000, last_error="")
    set_status(batch, S.FAILED, 500, last_error="Invalid API Key!")

    # session, user, batch, counters, dispatcher, latencies, send rate, result rate, errors,
    # the live controls (the concurrency and rate in effect) and the provider's circuit breaker
    with django_assert_max_num_queries(12):  # 12: the spend caps
        response = staff_client.get(progress_url(batch))

    assert response.json()["counts"]["failed"] == 500


def test_batch_page_costs_a_handful_of_queries(
    staff_client, busy_batch, django_assert_max_num_queries
):
    with django_assert_max_num_queries(16):
        response = staff_client.get(page_url(busy_batch))

    assert response.status_code == 200


def test_batch_page_shows_numbers_bars_and_links(staff_client, busy_batch):
    html = staff_client.get(page_url(busy_batch)).content.decode()

    assert 'data-progress="count_completed">60<' in html
    assert 'data-progress="count_queued">15<' in html
    assert 'data-bar="sent"' in html and 'style="width: 80.0%"' in html
    assert 'data-seg="completed" title="60 completed" style="width: 60.0%"' in html
    assert 'data-seg="rejected" title="10 rejected or duplicate" style="width: 10.0%"' in html
    assert f'href="/admin/orders/batch/{busy_batch.pk}/export/"' in html
    assert f'data-url="/admin/orders/batch/{busy_batch.pk}/progress.json"' in html
    assert "portal/batch_progress.js" in html
    assert "<svg class='status-chart'" in html and html.count("<polygon") == 6


def test_batch_page_shows_the_state_and_note_of_a_paused_batch(staff_client, db):
    batch = make_batch(orders=3)
    batch.pause("Invalid API Key!")

    data = staff_client.get(progress_url(batch)).json()
    html = staff_client.get(page_url(batch)).content.decode()

    assert (data["state"], data["note"], data["eta_send_seconds"]) == (
        "paused",
        "Invalid API Key!",
        None,
    )
    assert 'data-progress="state">Paused<' in html
    assert 'data-progress="note">Invalid API Key!<' in html


def test_errors_are_grouped_and_link_to_their_orders(staff_client, db):
    batch = make_batch(orders=6)
    other = make_batch(orders=2)
    set_status(batch, S.FAILED, 3, last_error="Invalid API Key!")
    set_status(batch, S.UNKNOWN, 1, last_error="Timed out after 90 s")
    set_status(other, S.FAILED, 2, last_error="Invalid API Key!")

    errors = staff_client.get(progress_url(batch)).json()["errors"]

    assert [(e["error"], e["count"]) for e in errors] == [
        ("Invalid API Key!", 3),
        ("Timed out after 90 s", 1),
    ]
    assert errors[0]["url"] == (
        f"/admin/orders/order/?batch__id__exact={batch.pk}&last_error=Invalid+API+Key%21"
    )
    listing = staff_client.get(errors[0]["url"])
    assert listing.status_code == 200
    assert listing.context["cl"].result_count == 3


def test_status_chart_ends_at_the_current_counts(db):
    from portal.admin.charts import GROUPS, bucket_edges, series

    now = timezone.now().replace(second=30)
    start = now - timedelta(minutes=3)
    rows = [(now.replace(second=0) - timedelta(minutes=1), S.QUEUED, S.SUBMITTING, 4)]
    counts = dict.fromkeys(S.values, 0) | {"submitting": 4, "queued": 6}

    points = series(counts, rows, bucket_edges(start, now))

    assert {key for key, *_ in GROUPS} == set(points[0])
    assert (points[0]["queued"], points[0]["sending"]) == (10, 0)
    assert (points[-1]["queued"], points[-1]["sending"]) == (6, 4)


def test_progress_json_is_for_staff_only(client, db, busy_batch):
    response = client.get(progress_url(busy_batch))

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_progress_json_of_a_missing_batch_is_404(staff_client, db):
    assert staff_client.get("/admin/orders/batch/999999/progress.json").status_code == 404


def test_provider_text_is_escaped_on_the_batch_page(staff_client, db):
    batch = make_batch(orders=2, note="<script>alert('note')</script>")
    set_status(batch, S.FAILED, 1, last_error="<script>alert('x')</script>")

    html = staff_client.get(page_url(batch)).content.decode()

    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html


def test_expected_cost_uses_the_service_price(staff_client, db):
    service = make_service(id=5000, title="AT&T unlock", price=Decimal("25.50"))
    batch = make_batch(service=service, orders=4, state=Batch.State.QUEUED)

    data = staff_client.get(progress_url(batch)).json()

    assert (data["cost_so_far"], data["cost_expected"]) == ("0.00", "102.00")


def test_the_chart_fragment_is_served_for_the_live_redraw(
    staff_client, busy_batch, django_assert_max_num_queries
):
    with django_assert_max_num_queries(6):
        response = staff_client.get(f"/admin/orders/batch/{busy_batch.pk}/chart/")

    html = response.content.decode()
    assert (
        html.startswith("<svg class='status-chart'") and html.count("<polygon") == 6
    )  # one per group


def test_a_finished_batch_chart_is_kept_until_one_of_its_orders_moves(
    staff_client, db, django_assert_num_queries
):
    now = timezone.now()
    batch = make_batch(orders=4, state=Batch.State.DONE, started_at=now, finished_at=now)
    failed = set_status(batch, S.FAILED, 4)
    url = f"/admin/orders/batch/{batch.pk}/chart/"
    first = staff_client.get(url).content
    with django_assert_num_queries(4):  # session, user, batch, counters: no events query
        assert staff_client.get(url).content == first

    Order.objects.filter(pk=failed[0]).update(status=S.COMPLETED)  # e.g. a late answer

    assert staff_client.get(url).content != first


# Exact counts: the batch page and its progress JSON (polled every few seconds while a batch
# runs) run these many queries, no more and no fewer. Counted after a warm-up request: the
# first request of a process reads one row more, that the process then keeps. Measured on
# SQLite and on PostgreSQL: the same numbers on both.
PROGRESS_JSON_QUERIES = 12
BATCH_PAGE_QUERIES = 16


def test_progress_json_runs_an_exact_number_of_queries(
    staff_client, busy_batch, django_assert_num_queries
):
    staff_client.get(progress_url(busy_batch))  # warm: once-per-process lookups are done

    with django_assert_num_queries(PROGRESS_JSON_QUERIES):
        response = staff_client.get(progress_url(busy_batch))

    assert response.json()["counts"]["completed"] == 60


def test_batch_page_runs_an_exact_number_of_queries(
    staff_client, busy_batch, django_assert_num_queries
):
    staff_client.get(page_url(busy_batch))  # warm: once-per-process lookups are done

    with django_assert_num_queries(BATCH_PAGE_QUERIES):
        response = staff_client.get(page_url(busy_batch))

    assert response.status_code == 200
