"""The worker cluster's Prometheus endpoint: the provider calls its workers made.

The calls happen in django-q2's worker processes, so each process writes its counts to
PROMETHEUS_MULTIPROC_DIR (prometheus-client's multiprocess mode) and the qcluster's main process
serves their sum on METRICS_ADDR:METRICS_PORT (an internal bind: no token on this one). The
directory is the cluster's own: emptied at start, so the in-flight gauge of a killed process
does not linger. The web's /metrics (portal/metrics.py) serves what the database says.
"""

import logging
from pathlib import Path

from django.conf import settings
from prometheus_client import REGISTRY, CollectorRegistry, start_http_server
from prometheus_client.multiprocess import MultiProcessCollector

log = logging.getLogger(__name__)


def registry():
    """The sum over the cluster's processes, or this process's own without the directory."""
    if not settings.PROMETHEUS_MULTIPROC_DIR:
        return REGISTRY
    summed = CollectorRegistry()
    MultiProcessCollector(summed)
    return summed


def clear_directory():
    for path in Path(settings.PROMETHEUS_MULTIPROC_DIR).glob("*.db"):
        path.unlink(missing_ok=True)


def serve():
    """Start the endpoint when METRICS_PORT is set; returns the server (None when off)."""
    if not settings.METRICS_PORT:
        return None
    server, _ = start_http_server(
        settings.METRICS_PORT, addr=settings.METRICS_ADDR, registry=registry()
    )
    log.info("Cluster metrics on http://%s:%s/metrics", settings.METRICS_ADDR, server.server_port)
    return server
