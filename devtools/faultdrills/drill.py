"""One drill: the fake provider, a batch, a real `manage.py qcluster`, the fault, the report."""

import os
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import CommandError

from orders.models import Batch, Order
from submissions import services

from .books import Books
from .chaos import ChaosDrill
from .plumbing import RecordingFake, Supervisor, kill_group, make_batch
from .refusals import RefusalsDrill
from .stop import StopDrill
from .unattended import UnattendedDrills

SCENARIOS = ("outage", "refusal", "sigterm", "sigterm-main", "kill9", "chaos", "refusals", "stop")
ORDERS = {"chaos": 2000, "refusals": 600}  # the others' batch: 1,000 orders


class Drill(UnattendedDrills, ChaosDrill, RefusalsDrill, StopDrill, Books):
    """One scenario's run; each scenario is a `drill_<name>` method returning its report."""

    def __init__(self, options):
        self.scenario = options["scenario"]
        options["orders"] = options["orders"] or ORDERS.get(self.scenario, 1000)
        self.options, self.cluster_env, self.cleanups = options, {}, []

    def run(self):
        self.fake = RecordingFake(
            latency=self.options["latency"], jitter=self.options["latency"] * 0.3,
            complete_after=5, status_latency=0.05, id_gap=3, seed=1,
            username=settings.GSM_FUSION_USERNAME, api_key=settings.GSM_FUSION_API_KEY,
        ).start()  # fmt: skip
        self.cleanups.append(self.fake.stop)
        self.started = time.monotonic()
        self.batch = make_batch(self.options["orders"])
        try:
            getattr(self, "setup_" + self.scenario, lambda: None)()
            self.cleanups.insert(0, self.stop_cluster)
            if self.scenario == "chaos":  # restarted whenever it exits, as systemd would
                self.supervisor = Supervisor(self.start_cluster)
            else:
                self.cluster = self.start_cluster()
            services.batch_created(self.batch)
            report = getattr(self, "drill_" + self.scenario.replace("-", "_"))()
            report.update(self.totals())
        finally:
            for cleanup in self.cleanups:
                cleanup()
        return report

    # -- the cluster ---------------------------------------------------------------------------

    def stop_cluster(self):
        if getattr(self, "supervisor", None):
            self.supervisor.stop()
        if getattr(self, "cluster", None):
            kill_group(self.cluster.pid)

    def start_cluster(self):
        env = {
            **os.environ,
            "GSM_FUSION_BASE_URL": self.fake.base_url,
            "SUBMIT_CONCURRENCY": str(self.options["concurrency"]),
            "STATUS_POLL_SECONDS": "5",
            "GSM_FUSION_CONNECT_TIMEOUT": "5",
            "GSM_FUSION_READ_TIMEOUT": "20",
            "RECONCILE_SECONDS": "10",
            "DRIVER_SECONDS": "60",
            **self.cluster_env,
        }
        log = self.options["cluster_log"]
        output = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 (the child's)
        try:
            return subprocess.Popen(
                [sys.executable, "manage.py", "qcluster"],
                cwd=settings.BASE_DIR,
                env=env,
                start_new_session=True,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        finally:
            if log:
                output.close()

    # -- waiting and counting ------------------------------------------------------------------

    def wait(self, predicate, timeout, what):
        end = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > end:
                raise CommandError(f"Timed out after {timeout} s: {what}; {self.counts()}")
            time.sleep(0.5)

    def wait_all_completed(self):
        total = self.options["orders"]
        self.wait(lambda: self.counts().get(Order.Status.COMPLETED) == total, 900, "all done")

    def counts(self):
        counts = {}
        for status in self.batch.orders.values_list("status", flat=True):
            counts[status] = counts.get(status, 0) + 1
        return counts

    def placed(self):
        return self.batch.orders.exclude(remote_id=None).count()

    def state(self):
        return Batch.objects.values_list("state", flat=True).get(pk=self.batch.pk)

    def placeorders(self):
        return self.fake.stats()["calls"].get("placeorder", 0)

    def totals(self):
        stats = self.fake.stats()
        return {
            "status_final": self.counts(),
            "seconds_total": round(time.monotonic() - self.started),
            "orders_created": stats["orders_created"],
            "imeis_placed_more_than_once": stats["imeis_placed_more_than_once"],
            "placeorder_calls": stats["calls"].get("placeorder", 0),
            "database": settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[1],
            "redis": bool(settings.REDIS_URL),
        }
