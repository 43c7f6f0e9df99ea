"""`drill outage|refusal|sigterm|sigterm-main|kill9`: faults in the provider's answers or on
the cluster's processes, once a part of the batch is placed; each ends with it completed."""

import os
import signal
import time
from datetime import timedelta

from django.utils import timezone

from orders.models import Batch, Order
from submissions import driver, services
from submissions.driver import breaker
from submissions.driver.shutdown import group_is_gone
from submissions.models import Dispatcher

FUNDS = "Your account does not have enough funds to place this order."


class UnattendedDrills:
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
        report["unknown_at_outage_end"] = report["status_at_outage_end"].get("unknown", 0)
        report.update(self.reconciliation())
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
        report.update(self.reconciliation())
        return report
