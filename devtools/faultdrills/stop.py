"""`drill stop`: "Stop all sending" mid-batch; nothing may start 1 s after it returns."""

import time

from orders.models import Order
from submissions import controls, driver

STOP_BOUND = 1.0  # no placeorder starts later than this after "stop all sending" returns


class StopDrill:
    def drill_stop(self):
        self.wait(lambda: self.placed() >= 200, 600, "200 orders placed")
        controls.change(None, sending_stopped=False)  # the row exists: one UPDATE below
        pressed = time.monotonic()
        controls.change(None, sending_stopped=True)
        returned = time.monotonic()
        report = {
            "seconds_for_the_stop_to_return": round(returned - pressed, 3),
            "in_flight_at_stop": self.fake.stats()["inflight_placeorders"],
        }
        self.wait_quiet(returned + self.options["hold"])
        later = [round(t - returned, 3) for t in self.fake.starts if t > returned]
        report["placeorders_started_after_the_stop"] = len(later)
        report["last_placeorder_start_after_the_stop_s"] = max(later, default=0.0)
        report["starts_after_the_stop_s"] = later[-10:]  # the last ten, for the diagnosis
        held = self.books()
        report["while_stopped"] = {**held, "submitting": Order.objects.in_flight().count()}
        controls.change(None, sending_stopped=False)
        driver.enqueue()
        settled = self.settle(600)
        invariants = {
            "no_placeorder_later_than_1s_after_the_stop": max(later, default=0) <= STOP_BOUND,
            "calls_in_flight_recorded_while_stopped": (
                held["provider_orders_not_recorded"] == 0
                and not report["while_stopped"]["submitting"]
            ),
            "batch_completes_after_release": settled,
        }
        return self.verdict(report, invariants)

    def wait_quiet(self, until):
        """While stopped: until `until` and the calls in flight have ended and been recorded."""
        end = until + 120
        while time.monotonic() < end:
            quiet = not self.fake.stats()["inflight_placeorders"]
            if time.monotonic() >= until and quiet and not Order.objects.in_flight().exists():
                return
            time.sleep(0.2)
