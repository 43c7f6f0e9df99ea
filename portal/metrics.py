"""`/metrics`: Prometheus text of what the database says, behind a bearer token (METRICS_TOKEN;
unset: no endpoint). The same from every web host: queue, orders by status, spend by service,
the breaker, the cluster's heartbeat (submissions/metrics.py). The provider calls are counted
by the cluster, which serves them itself (submissions/exporter.py). docs/operations.md,
"Metrics", has a scrape config.
"""

import hmac

from django.conf import settings
from django.http import Http404, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from submissions.metrics import DatabaseCollector


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
    scrape = CollectorRegistry(auto_describe=False)
    scrape.register(DatabaseCollector())
    return HttpResponse(generate_latest(scrape), content_type=CONTENT_TYPE_LATEST)
