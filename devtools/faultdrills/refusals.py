"""`drill refusals`: 3 IMEIs refused one by one must not pause or slow the batch."""

import time

from devtools.fakefusion.server import REFUSED_IMEI
from orders.models import Batch, Order
from submissions import driver, services

from .plumbing import drill_imei, make_batch

SLOWER_BOUND = 1.3  # a batch with 3 refused IMEIs against a clean one
FIRST_REFUSED = (0, 3, 6)  # positions among the first sent: a success sent between each two


class RefusalsDrill:
    def drill_refusals(self):
        size = self.options["orders"]
        clean = self.timed_batch(self.batch)
        report = {"clean_seconds": clean}
        invariants = {}
        spread = (size // 4, size // 2, 3 * size // 4)
        for n, (name, positions) in enumerate(
            {"spread": spread, "first": FIRST_REFUSED}.items(), 1
        ):
            imeis = [drill_imei(n * size + p) for p in positions]
            self.fake.set_faults({"refuse_imeis": imeis})
            batch = make_batch(size, first=n * size)
            seconds = self.timed_batch(batch, watch_pauses=True)
            refused = self.refused(batch, imeis)
            report[name] = {"seconds": seconds, "ratio": ratio(seconds, clean), **refused}
            invariants[f"{name}_no_pause"] = not refused["pauses"]
            invariants[f"{name}_3_failed_with_the_providers_words"] = refused["ok"]
            invariants[f"{name}_others_completed"] = refused["others_completed"] == size - 3
            invariants[f"{name}_within_1.3x"] = (ratio(seconds, clean) or 99) <= SLOWER_BOUND
        self.fake.set_faults({"refuse_imeis": ()})
        return self.verdict(report, invariants)

    def timed_batch(self, batch, watch_pauses=False):
        """Seconds from its first placeorder at the fake to every order final (None: stuck)."""
        self.pauses, first_start = [], len(self.fake.starts)
        if batch != self.batch:
            services.batch_created(batch)
        settled = self.settle(600, batch=batch, watch_pauses=watch_pauses)
        if not settled or len(self.fake.starts) <= first_start:
            return None
        return round(time.monotonic() - self.fake.starts[first_start], 1)

    def refused(self, batch, imeis):
        orders = list(batch.orders.filter(imei__in=imeis).values("status", "last_error"))
        ok = len(orders) == len(imeis) == 3 and all(
            o["status"] == Order.Status.FAILED and REFUSED_IMEI in o["last_error"] for o in orders
        )
        others = batch.orders.exclude(imei__in=imeis)
        return {
            "refused_orders": orders,
            "ok": ok,
            "others_completed": others.filter(status=Order.Status.COMPLETED).count(),
            "pauses": self.pauses,
        }

    def resume_if_paused(self, batch):
        """A pause is a failure of the refusals drill: note it, resume as an operator would."""
        batch.refresh_from_db()
        if batch.state == Batch.State.PAUSED and len(self.pauses) < 5:
            self.pauses.append(batch.note)
            services.resume_batch(batch, "drill")
            driver.enqueue()


def ratio(seconds, clean):
    return round(seconds / clean, 2) if seconds and clean else None
