"""`/health/` for a load balancer and an uptime monitor: JSON, 200 when healthy, 503 when not.

No login, no session, no CSRF (GET only). It says which part is wrong without details that
could leak anything: no exception text, no key, no user data, no provider error message.
A small view rather than django-health-check: see docs/operations.md for why.
"""

import logging
import time
import uuid

from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from submissions import controls, health
from submissions.models import Dispatcher

log = logging.getLogger(__name__)


def check_database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        return cursor.fetchone() == (1,)


def check_cache():
    """A round trip through the cache (Redis when REDIS_URL is set, also the broker then)."""
    key, value = "health-check", uuid.uuid4().hex
    cache.set(key, value, 10)
    return cache.get(key) == value


def probe(check):
    """True/False, never an exception (its text is logged, not shown)."""
    try:
        return bool(check())
    except Exception:
        log.exception("Health check %s failed", check.__name__)
        return False


def cluster_report(now):
    """The worker cluster, the work waiting and the provider: one Dispatcher read."""
    dispatcher = Dispatcher.row().first() or Dispatcher()
    worker = health.worker_state(now, dispatcher)
    provider = health.provider_state(now, dispatcher)
    live = controls.effective()
    return worker, {
        "workers": worker.as_json(),
        "provider": provider.as_json(),
        "sending_stopped": live.sending_stopped,
    }


@never_cache
@require_GET
def health_view(request):
    started = time.monotonic()
    now = timezone.now()
    report = {"database": probe(check_database), "cache": probe(check_cache)}
    healthy = report["database"] and report["cache"]
    if report["database"]:
        try:
            worker, details = cluster_report(now)
        except Exception:
            log.exception("Health check of the cluster failed")
            report["database"] = healthy = False
        else:
            report.update(details)
            healthy = healthy and worker.alive and not worker.stranded
    report["status"] = "ok" if healthy else "fail"
    report["time"] = now.isoformat()
    report["took_ms"] = round((time.monotonic() - started) * 1000, 1)
    return JsonResponse(report, status=200 if healthy else 503)
