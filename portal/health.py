"""`/health/` for a load balancer and an uptime monitor, `/health/details/` for staff.

`/health/`: no login, no session, GET only, answered over plain HTTP even with the secure
settings on (SECURE_REDIRECT_EXEMPT). It says only `ok` or `degraded` (200) or `down` (503):
anything more (the provider's host, an exception's text, queue counts) would tell a stranger
about the business. `/health/details/` shows all of that to staff, as JSON.

down: the database or the cache fails, no worker cluster beats, or work waits without a driver.
degraded: the web and the workers are fine but the provider is failing or down, its circuit
breaker is open, or sending is stopped: a reason to alert, not to take the web servers out of
the load balancer. A small view rather than django-health-check: see docs/operations.md.
"""

import logging
import time
import uuid
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.core.cache import cache
from django.db import connection
from django.db.models import Sum
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from orders.models import BatchStatusCount, Order
from submissions import controls, health
from submissions.models import Dispatcher

log = logging.getLogger(__name__)

OK, DEGRADED, DOWN = "ok", "degraded", "down"


def check_database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        return cursor.fetchone() == (1,)


def check_cache():
    """A round trip through the cache (Redis when REDIS_URL is set, also the broker then)."""
    key, value = "health-check", uuid.uuid4().hex
    cache.set(key, value, 10)
    return cache.get(key) == value


def probe(check, errors):
    """True/False, never an exception: its text goes to `errors` (staff only) and the log."""
    try:
        return bool(check())
    except Exception as exc:
        errors[check.__name__] = f"{type(exc).__name__}: {exc}"
        log.warning("Health check %s failed: %s", check.__name__, errors[check.__name__])
        return False


def cluster_report(now):
    """The worker cluster, the work waiting and the provider: one Dispatcher read."""
    dispatcher = Dispatcher.row().first() or Dispatcher()
    worker = health.worker_state(now, dispatcher)
    provider = health.provider_state(now, dispatcher)
    return worker, provider, controls.effective().sending_stopped


def assess(now):
    """(status, the full report): what /health/ answers and what staff may read."""
    errors = {}
    report = {"database": probe(check_database, errors), "cache": probe(check_cache, errors)}
    status = OK if report["database"] and report["cache"] else DOWN
    if report["database"]:
        try:
            worker, provider, stopped = cluster_report(now)
        except Exception as exc:
            errors["cluster_report"] = f"{type(exc).__name__}: {exc}"
            log.warning("Health check of the cluster failed: %s", errors["cluster_report"])
            report["database"], status = False, DOWN
        else:
            report.update(
                workers=worker.as_json(), provider=provider.as_json(), sending_stopped=stopped
            )
            if not worker.alive or worker.stranded:
                status = DOWN
            elif status == OK and (provider_troubled(provider) or stopped):
                status = DEGRADED
    report.update(status=status, errors=errors, time=now.isoformat())
    return status, report


def provider_troubled(provider):
    return provider.state in ("failing", "down") or provider.breaker != "closed"


def answer(status, body):
    response = JsonResponse(body, status=503 if status == DOWN else 200)
    if status == DOWN:
        # An expected answer, not a server error: a warning without a traceback, instead of
        # django.request's "Service Unavailable" error line (and its mail to ADMINS).
        log.warning("Health check: down")
        response._has_been_logged = True
    return response


@never_cache
@require_GET
def health_view(request):
    status, _ = assess(timezone.now())
    return answer(status, {"status": status})


@never_cache
@require_GET
@staff_member_required
def health_details_view(request):
    started = time.monotonic()
    status, report = assess(timezone.now())
    report["provider_host"] = urlsplit(settings.GSM_FUSION_BASE_URL).hostname
    report["orders"] = open_order_counts()
    report["took_ms"] = round((time.monotonic() - started) * 1000, 1)
    return answer(status, report)


def open_order_counts():
    """Open orders per status, from the per-batch counters (a few rows, not the orders)."""
    rows = (
        BatchStatusCount.objects.filter(status__in=Order.OPEN_STATUSES)
        .values_list("status")
        .annotate(n=Sum("orders"))
        .order_by()
    )
    counts = dict.fromkeys(Order.OPEN_STATUSES, 0)
    counts.update(rows)
    return counts
