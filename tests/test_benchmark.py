"""`manage.py benchmark` end to end on tiny numbers: every figure is reported, none doubled.

It runs the real thing (fake provider and qcluster subprocesses, the admin import, both
baselines, the pages) against a throwaway SQLite file; no timing is asserted.
"""

import json
import subprocess
import sys

import pytest
from django.conf import settings

from devtools.benchmark.config import TARGETS

TINY = [
    "--orders", "20", "--latency", "0.05", "--jitter", "0", "--concurrency", "5",
    "--complete-after", "0.5", "--poll-seconds", "1", "--sequential-cap", "5",
    "--page-orders", "300", "--page-requests", "1",
]  # fmt: skip
SECTIONS = {
    "import": {"rows", "rows_per_second", "seconds_upload_to_confirmed"},
    "engine": {
        "wall_seconds", "bound_seconds", "efficiency", "peak_inflight",
        "imeis_placed_more_than_once", "lost", "orders_per_second", "pool_ratio",
    },
    "results": {"completed", "lag_p50_s", "lag_p95_s"},
    "cost": {"queries_per_order", "cpu_seconds_per_1000", "peak_rss_mib"},
    "pages": {"batch_page_ms", "batch_json_ms", "changelist_ms", "search_1000_ms"},
}  # fmt: skip


@pytest.mark.cluster
def test_it_reports_every_figure_and_places_no_imei_twice(tmp_path):
    out = tmp_path / "results.json"
    database = f"sqlite:///{tmp_path / 'bench.sqlite3'}"
    command = [sys.executable, "manage.py", "benchmark", *TINY, "--database", database]
    finished = subprocess.run(
        [*command, "--json", str(out)],
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    results = json.loads(out.read_text())

    for section, keys in SECTIONS.items():
        assert keys <= results[section].keys(), section
    assert set(results["verdicts"]) == set(TARGETS)
    assert results["engine"]["statuses"]["completed"] == 20
    assert results["results"]["completed"] == 20
    assert results["pages"]["orders_in_database"] == 300
    engine, baselines = results["engine"], results["baselines"]
    for figures in (engine, baselines["sequential"], baselines["thread_pool"]):
        assert figures["imeis_placed_more_than_once"] == 0
        assert figures["lost"] == 0
    assert baselines["thread_pool"]["provider_orders_created"] == 20
    assert baselines["sequential"]["measured_orders"] == 5
    assert engine["pool_ratio"] > 0
    assert "efficiency" in finished.stdout
    assert "share of the thread pool's throughput" in finished.stdout
