"""`/metrics`: Prometheus text, behind a bearer token (METRICS_TOKEN; unset: no endpoint).

What the database says (submissions/metrics.py) and what this host's processes counted (the
provider calls: in the cluster's workers, collected through PROMETHEUS_MULTIPROC_DIR when it is
set; otherwise this process's own registry). docs/operations.md, "Metrics", has a scrape config.
"""

import hmac

from django.conf import settings
from django.http import Http404, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from submissions.metrics import DatabaseCollector


class ProcessCollector:
    """This process's registry (its own counters, Python's process metrics), passed through."""

    def collect(self):
        yield from REGISTRY.collect()


def registry():
    scrape = CollectorRegistry(auto_describe=False)
    if settings.PROMETHEUS_MULTIPROC_DIR:
        MultiProcessCollector(scrape)
    else:
        scrape.register(ProcessCollector())
    scrape.register(DatabaseCollector())
    return scrape


def authorized(request):
    expected = f"Bearer {settings.METRICS_TOKEN}".encode()
    return hmac.compare_digest(request.headers.get("Authorization", "").encode(), expected)


@never_cache
@require_GET
def metrics_view(request):
    if not settings.METRICS_TOKEN:
        raise Http404("METRICS_TOKEN is not set")
    if not authorized(request):
        return HttpResponse("A bearer token is required.\n", status=401, content_type="text/plain")
    return HttpResponse(generate_latest(registry()), content_type=CONTENT_TYPE_LATEST)
