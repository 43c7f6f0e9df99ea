"""`manage.py drill SCENARIO`: the full-size unattended-operation drills.

Against the configured database (it must hold no orders), an in-process fake provider and a
REAL `manage.py qcluster`, one batch of --orders orders:
- outage: 502 Bad Gateway (--status 502, the default: a gateway answers, nothing is created,
  the client cannot know that: unknown, then reconciliation) or 503 (--status 503: refused,
  retried) on every placeorder for --outage seconds once 200 orders are placed;
- refusal: "not enough funds" (or --refusal-text) refusals once 300 orders exist; then
  top-up and resume;
- sigterm / sigterm-main: SIGTERM to the cluster's whole group / its main process once 300
  are placed; time to exit, then a restart finishes the batch;
- kill9: SIGKILL to the whole group once 300 are placed; a restart, leases lapse naturally,
  reconciliation finds the unknown orders;
- chaos, refusals, stop: issue 20's faults from outside (devtools/faultdrills/), each ending
  with the provider's and the portal's books compared and a verdict per invariant.
Prints one JSON report. The fake answers in --latency s with other accounts' ids in between.
"""

import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

from django.conf import settings
from django.core.management import BaseCommand, CommandError, call_command
from django.utils import timezone

from devtools.faultdrills import FaultDrills, RecordingFake, Supervisor, kill_group, make_batch
from orders.models import Batch, Order, OrderEvent
from submissions import driver, services
from submissions.driver import breaker
from submissions.driver.shutdown import group_is_gone
from submissions.models import Dispatcher

FUNDS = "Your account does not have enough funds to place this order."
SCENARIOS = ("outage", "refusal", "sigterm", "sigterm-main", "kill9", "chaos", "refusals", "stop")
ORDERS = {"chaos": 2000, "refusals": 600}  # issue 20's sizes; the others' default is 1,000


class Command(FaultDrills, BaseCommand):
    help = (
        "Full-size drills: outage, refusal storm, SIGTERM, kill -9, and issue 20's chaos, "
        "refusals and stop (a real qcluster)."
    )

    def add_arguments(self, parser):
        parser.add_argument("scenario", choices=SCENARIOS)
        parser.add_argument("--orders", type=int, help="the batch's size (1,000; chaos 2,000)")
        parser.add_argument("--outage", type=float, default=180.0, help="seconds of the outage")
        parser.add_argument(
            "--status", type=int, choices=(502, 503), default=502, help="the outage's answer"
        )
        parser.add_argument("--latency", type=float, default=1.0, help="fake placeorder (s)")
        parser.add_argument("--concurrency", type=int, default=30)
        parser.add_argument("--refusal-text", default=FUNDS, help="the refusal scenario's text")
        parser.add_argument("--chaos-seconds", type=float, default=90.0)
        parser.add_argument("--hold", type=float, default=10.0, help="stop: seconds stopped")
        parser.add_argument("--seed", type=int, default=20, help="chaos: the schedule's seed")
        parser.add_argument("--cluster-log", help="append the cluster's output to this file")

    def handle(self, *args, **options):
        call_command("migrate", interactive=False, verbosity=0)
        if Order.objects.exists():
            raise CommandError("The drill needs a database without orders (a fresh one).")
        scenario = options["scenario"]
        options["orders"] = options["orders"] or ORDERS.get(scenario, 1000)
        self.options, self.cluster_env, self.cleanups = options, {}, []
        self.fake = RecordingFake(
            latency=options["latency"], jitter=options["latency"] * 0.3, complete_after=5,
            status_latency=0.05, id_gap=3, seed=1, username=settings.GSM_FUSION_USERNAME,
            api_key=settings.GSM_FUSION_API_KEY,
        ).start()  # fmt: skip
        self.cleanups.append(self.fake.stop)
        self.started = time.monotonic()
        self.batch = make_batch(options["orders"])
        try:
            getattr(self, "setup_" + scenario, lambda: None)()
            self.cleanups.insert(0, self.stop_cluster)
            if scenario == "chaos":  # restarted whenever it exits, as systemd would
                self.supervisor = Supervisor(self.start_cluster)
            else:
                self.cluster = self.start_cluster()
            services.batch_created(self.batch)
            report = getattr(self, "drill_" + scenario.replace("-", "_"))()
            report.update(self.totals())
        finally:
            for cleanup in self.cleanups:
                cleanup()
        self.stdout.write(json.dumps(report, indent=1, ensure_ascii=False))
        if report.get("passed") is False:
            failed = [name for name, ok in report["invariants"].items() if not ok]
            raise CommandError(f"Drill {scenario} failed: {', '.join(failed)}")

    # -- the scenarios ---------------------------------------------------------------------------

    def drill_outage(self):
        self.wait(lambda: self.placed() >= 200, 600, "200 orders placed")
        fault = {502: "gateway_rate", 503: "fail_rate"}[self.options["status"]]
        self.fake.set_faults({fault: 1.0})
        calls = self.placeorders()
        time.sleep(self.options["outage"])
        report = {
            "placeorder_calls_during_outage": self.placeorders() - calls,
            "shown_during_outage": breaker.state().describe(),
            "status_at_outage_end": self.counts(),
        }
        self.fake.set_faults({fault: 0.0})
        ended = time.monotonic()
        self.wait_all_completed()
        report["seconds_from_outage_end_to_all_completed"] = round(time.monotonic() - ended)
        report["outage_status"] = self.options["status"]
        events = OrderEvent.objects
        report["unknown_at_outage_end"] = report["status_at_outage_end"].get("unknown", 0)
        report["found_again"] = events.filter(detail__startswith="Found again").count()
        report["never_created_sent"] = events.filter(detail__startswith="Never created").count()
        return report

    def drill_refusal(self):
        self.fake.set_faults({"refuse_text": self.options["refusal_text"], "refuse_after": 300})
        self.wait(lambda: self.state() == Batch.State.PAUSED, 600, "the batch pauses")
        self.wait(lambda: not Order.objects.in_flight().exists(), 120, "calls in flight end")
        self.batch.refresh_from_db()
        report = {
            "note": self.batch.note,
            "status_at_pause": self.counts(),
            "refused_calls": self.fake.stats()["refused"],
        }
        self.fake.set_faults({"refuse_text": None})
        services.resume_batch(self.batch, "drill")
        driver.enqueue()
        self.wait_all_completed()
        return report

    def drill_sigterm(self, whole_group=True):
        self.wait(lambda: self.placed() >= 300, 600, "300 orders placed")
        report = {"in_flight_at_signal": Order.objects.in_flight().count()}
        started = time.monotonic()
        pid = self.cluster.pid
        if whole_group:
            os.killpg(pid, signal.SIGTERM)
        else:
            os.kill(pid, signal.SIGTERM)
        self.cluster.wait(timeout=600)
        self.wait(lambda: group_is_gone(pid), 600, "every cluster process exits")
        report["seconds_to_exit"] = round(time.monotonic() - started, 1)
        report["status_after_stop"] = self.counts()
        Dispatcher.row().update(driver_expires_at=timezone.now() - timedelta(seconds=1))
        self.cluster = self.start_cluster()
        driver.ensure()
        self.wait_all_completed()
        return report

    def drill_sigterm_main(self):
        return self.drill_sigterm(whole_group=False)

    def drill_kill9(self):
        self.wait(lambda: self.placed() >= 300, 600, "300 orders placed")
        report = {"in_flight_at_kill": Order.objects.in_flight().count()}
        os.killpg(self.cluster.pid, signal.SIGKILL)
        self.cluster.wait(timeout=30)
        killed = time.monotonic()
        self.cluster = self.start_cluster()  # leases lapse by themselves
        self.wait_all_completed()
        report["seconds_from_kill_to_all_completed_none_unknown"] = round(time.monotonic() - killed)
        events = OrderEvent.objects
        report["found_again"] = events.filter(detail__startswith="Found again").count()
        report["never_created_sent"] = events.filter(detail__startswith="Never created").count()
        return report

    # -- plumbing ------------------------------------------------------------------------------

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
