"""Prometheus metrics of the provider calls, kept by the process that makes them.

The calls happen in the qcluster's worker processes, so the web's /metrics sees them only
through prometheus-client's multiprocess mode (PROMETHEUS_MULTIPROC_DIR, a directory the
web and the cluster of one host share; docs/operations.md, "Metrics"). Labels are the call's
action and outcome only: never an IMEI, an order or a batch (one series each would grow
without bound).
"""

from prometheus_client import Counter, Gauge, Histogram

CALLS = Counter(
    "portal_provider_calls",
    "Provider API calls by action and outcome (placed, transient, unknown_outcome, ...).",
    ["action", "outcome"],
)
CALL_SECONDS = Histogram(
    "portal_provider_call_duration_seconds",
    "Provider API call latency, from sending to the whole answer read (or the error).",
    ["action"],
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 20, 30, 45, 60, 90, 120),
)
IN_FLIGHT = Gauge(
    "portal_provider_calls_in_flight",
    "Provider API calls sent and not yet answered.",
    ["action"],
    multiprocess_mode="livesum",
)
