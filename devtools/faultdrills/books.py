"""The provider's books against the portal's, and each drill's verdict."""

import time

from orders.models import Order, OrderEvent


class Books:
    """Mixed into `Drill` (its fake, batch)."""

    def settle(self, timeout, batch=None, unknown_ok=True, watch_pauses=False):
        """Wait until every order of `batch` (default: all) is final; False on timeout."""
        orders = batch.orders if batch else Order.objects
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if watch_pauses:
                self.resume_if_paused(batch)
            statuses = Order.OPEN_STATUSES + ([] if unknown_ok else [Order.Status.UNKNOWN])
            if not orders.filter(status__in=statuses).exists():
                return True
            time.sleep(0.5)
        return False

    def books(self):
        """The provider's books against the portal's."""
        recorded = dict(
            Order.objects.exclude(remote_id=None).values_list("remote_id", "imei").iterator()
        )
        created = self.fake.orders()
        missing = [o for o in created if recorded.get(o["id"]) != o["imei"]]
        stats = self.fake.stats()
        return {
            "provider_orders": len(created),
            "provider_orders_not_recorded": len(missing),
            "not_recorded_sample": missing[:5],
            "imeis_placed_more_than_once": stats["imeis_placed_more_than_once"],
            "open_orders": Order.objects.filter(status__in=Order.OPEN_STATUSES).count(),
            "unknown_orders": Order.objects.filter(status=Order.Status.UNKNOWN).count(),
        }

    def verdict(self, report, invariants):
        books = self.books()
        report["books"] = books
        invariants.update(
            no_imei_placed_twice=books["imeis_placed_more_than_once"] == 0,
            every_provider_order_recorded_with_its_id=books["provider_orders_not_recorded"] == 0,
            every_order_final=books["open_orders"] == 0,
        )
        report["invariants"] = invariants
        report["passed"] = all(invariants.values())
        return report

    def reconciliation(self):
        events = OrderEvent.objects
        return {
            "found_again": events.filter(detail__startswith="Found again").count(),
            "never_created_sent": events.filter(detail__startswith="Never created").count(),
        }
