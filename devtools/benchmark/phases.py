"""The import, the engine run and the two earlier approaches, each measured.

The import goes through the admin's own views with the Django test Client (upload, then
confirm), so it runs exactly the code staff run. The baselines call the same provider client
and write the same Order rows, as the earlier in-house tool did: they are the comparison,
not a way to send orders (they bypass the `submitting` state on purpose).
"""

import re
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from html import unescape

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import DatabaseError, connection
from django.db.models import Max, Min
from django.test import Client
from django.utils import timezone

from devtools.fakefusion.data import CATALOGUE
from orders.imei import with_check_digit
from orders.models import Batch, Order, OrderEvent, Service
from submissions.provider import GsmFusionClient, ProviderError

IMPORT_URL = "/admin/orders/order/import/"
CONFIRM_URL = "/admin/orders/order/process_import/"
HIDDEN_INPUT = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')
SERVICE_ID = CATALOGUE[0][0]
# The first digits of each phase's IMEIs, so no two phases ever share an IMEI.
PHASE_PREFIX = {
    "engine": "350",
    "sequential": "351",
    "threads": "352",
    "pages": "353",
    "small": "354",
    "urgent": "355",
    "actions": "356",
}


def imeis(phase, count, start=0):
    """`count` distinct Luhn-valid IMEIs for one phase."""
    return [with_check_digit(f"{PHASE_PREFIX[phase]}{n:011d}") for n in range(start, start + count)]


def ensure_service():
    service_id, title, category, price, *_ = CATALOGUE[0]
    service, _ = Service.objects.get_or_create(
        id=service_id,
        defaults={"title": title, "category": category, "price": price},
    )
    return service


def admin_client(user):
    client = Client(SERVER_NAME="localhost")
    client.force_login(user)
    return client


# -- the import ---------------------------------------------------------------------------------


def run_import(client, service, imei_list):
    """Upload a CSV through the admin, confirm it; the batch and the timings."""
    content = ("IMEI\r\n" + "\r\n".join(imei_list) + "\r\n").encode()
    started = time.perf_counter()
    upload = client.post(
        IMPORT_URL,
        {"service": service.pk, "import_file": SimpleUploadedFile("benchmark.csv", content)},
    )
    uploaded = time.perf_counter()
    fields = dict(HIDDEN_INPUT.findall(upload.content.decode()))
    fields.pop("csrfmiddlewaretoken", None)
    if upload.status_code != 200 or "import_file_name" not in fields:
        raise RuntimeError(f"The upload was not accepted (HTTP {upload.status_code}).")
    confirm = client.post(CONFIRM_URL, {k: unescape(v) for k, v in fields.items()})
    confirmed = time.perf_counter()
    if confirm.status_code != 302:
        raise RuntimeError(f"The confirm step failed (HTTP {confirm.status_code}).")
    batch = Batch.objects.order_by("-id").first()
    seconds = confirmed - started
    return batch, {
        "rows": len(imei_list),
        "orders_created": batch.orders.count(),
        "seconds_upload": round(uploaded - started, 3),
        "seconds_confirm": round(confirmed - uploaded, 3),
        "seconds_upload_to_confirmed": round(seconds, 3),
        "rows_per_second": round(len(imei_list) / seconds, 1),
    }


# -- the engine ---------------------------------------------------------------------------------


def wait_until_final(batch, timeout, progress=None):
    """Block until no order of the batch is open; False on timeout."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        still_open = batch.orders.filter(status__in=Order.OPEN_STATUSES).count()
        if progress:
            progress(still_open)
        if not still_open:
            return True
        time.sleep(0.5)
    return False


def engine_figures(batch, config, provider_stats):
    """Sending and result figures of the engine's batch, from its orders and events."""
    events = OrderEvent.objects.filter(order__batch=batch)
    claims = events.filter(from_status=Order.Status.QUEUED, to_status=Order.Status.SUBMITTING)
    calls = events.filter(from_status=Order.Status.SUBMITTING, latency_ms__isnull=False)
    first_claim = claims.aggregate(t=Min("at"))["t"]
    last_placed = calls.aggregate(t=Max("at"))["t"]
    wall = (last_placed - first_claim).total_seconds() if first_claim and last_placed else None
    latencies = list(calls.values_list("latency_ms", flat=True))
    counts = dict.fromkeys(Order.Status.values, 0)
    for status in batch.orders.values_list("status", flat=True):
        counts[status] += 1
    placed = batch.orders.filter(remote_id__isnull=False).count()
    figures = sending_figures(config, batch.orders.count(), wall, latencies, provider_stats)
    figures.update(placed=placed, statuses=counts)
    figures["lost"] = max(provider_stats["orders_created"] - placed, 0)
    return figures


def sending_figures(config, orders, wall, latencies_ms, provider_stats):
    """Wall time, throughput and efficiency against the bound, the same for every approach.

    The bound is orders x mean latency / concurrency. `efficiency` uses the fake's configured
    mean (uniform draws around `latency`, so their mean is `latency`); `efficiency_measured`
    uses the mean call latency the client saw, which includes HTTP and queueing overhead.
    """
    measured = statistics.fmean(latencies_ms) / 1000 if latencies_ms else None
    bound = orders * config.latency / config.concurrency
    bound_measured = orders * measured / config.concurrency if measured else None
    return {
        "orders": orders,
        "wall_seconds": round(wall, 2) if wall else None,
        "orders_per_second": round(orders / wall, 1) if wall else None,
        "bound_seconds": round(bound, 2),
        "efficiency": round(bound / wall, 3) if wall else None,
        "mean_latency_s": round(measured, 3) if measured else None,
        "efficiency_measured": round(bound_measured / wall, 3) if wall and measured else None,
        "peak_inflight": provider_stats["peak_inflight_placeorders"],
        "imeis_placed_more_than_once": provider_stats["imeis_placed_more_than_once"],
        "imeis_sent_more_than_once": provider_stats["imeis_sent_more_than_once"],
        "provider_orders_created": provider_stats["orders_created"],
    }


def result_lag(batch, complete_after):
    """Seconds from Completed at the provider (submitted_at + complete_after) to finished_at.

    submitted_at is written when the portal records the answer, a few ms after the fake
    created the order, so the lag is understated by that much.
    """
    rows = batch.orders.filter(status=Order.Status.COMPLETED).values_list(
        "submitted_at", "finished_at"
    )
    lags = sorted((f - s).total_seconds() - complete_after for s, f in rows)
    if not lags:
        return {"completed": 0, "lag_p50_s": None, "lag_p95_s": None, "lag_max_s": None}
    return {
        "completed": len(lags),
        "lag_p50_s": round(lags[len(lags) // 2], 2),
        "lag_p95_s": round(lags[min(int(len(lags) * 0.95), len(lags) - 1)], 2),
        "lag_max_s": round(lags[-1], 2),
    }


# -- the earlier approaches ---------------------------------------------------------------------


class LegacySender:
    """place_order, then write the Order row: what the in-house tool did, per IMEI."""

    def __init__(self, config, base_url, name):
        self.client = GsmFusionClient(
            base_url,
            settings.GSM_FUSION_USERNAME,
            settings.GSM_FUSION_API_KEY,
            pool_size=config.concurrency,
        )
        service = Service.objects.get(pk=SERVICE_ID)
        self.batch = Batch.objects.create(service=service, source_name=name, state=Batch.State.DONE)
        self.latencies = []
        self.failures = 0
        self.db_errors = []  # placed at the provider, not saved: the tool's lost orders

    def send(self, imei):
        started = time.perf_counter()
        try:
            placed = self.client.place_order(imei, SERVICE_ID)
        except ProviderError:
            self.failures += 1
            return
        self.latencies.append(round((time.perf_counter() - started) * 1000))
        now = timezone.now()
        try:
            Order.objects.create(
                batch=self.batch, service_id=SERVICE_ID, imei=imei, remote_id=placed.remote_id,
                status=Order.Status.PENDING, submitted_at=now, attempts=1, cost=CATALOGUE[0][3],
            )  # fmt: skip
        except DatabaseError as exc:
            self.db_errors.append(str(exc).strip().splitlines()[0])

    def placed(self):
        return self.batch.orders.count()


def run_sequential(config, provider):
    """One at a time, on at most `sequential_cap` orders, extrapolated to `orders`."""
    provider.reset()
    sample = min(config.orders, config.sequential_cap)
    sender = LegacySender(config, provider.base_url, "baseline: sequential")
    started = time.perf_counter()
    for imei in imeis("sequential", sample):
        sender.send(imei)
    seconds = time.perf_counter() - started
    stats = provider.stats()
    wall = seconds * config.orders / sample
    figures = sending_figures(config, config.orders, wall, sender.latencies, stats)
    figures.update(
        measured_orders=sample,
        measured_seconds=round(seconds, 2),
        extrapolated=sample < config.orders,
        lost=max(stats["orders_created"] - sender.placed(), 0),
        failed=sender.failures,
    )
    sender.client.close()
    return figures


def run_thread_pool(config, provider):
    """A plain ThreadPoolExecutor of `concurrency` threads, each sending and saving."""
    provider.reset()
    sender = LegacySender(config, provider.base_url, "baseline: thread pool")
    started = time.perf_counter()
    with ThreadPoolExecutor(config.concurrency) as pool:
        list(pool.map(sender.send, imeis("threads", config.orders)))
        seconds = time.perf_counter() - started
        close_thread_connections(pool, config.concurrency)
    stats = provider.stats()
    figures = sending_figures(config, config.orders, seconds, sender.latencies, stats)
    figures.update(
        lost=max(stats["orders_created"] - sender.placed(), 0),
        failed=sender.failures,
        database_errors=len(sender.db_errors),
        first_database_error=sender.db_errors[0] if sender.db_errors else "",
    )
    sender.client.close()
    return figures


def close_thread_connections(pool, threads):
    """Each pool thread closes its own database connection (a barrier makes each run one)."""
    barrier = threading.Barrier(threads)

    def close():
        barrier.wait(timeout=30)
        connection.close()

    list(pool.map(lambda _: close(), range(threads)))
