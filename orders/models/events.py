"""Each order's timeline: one event per transition."""

from django.conf import settings
from django.db import models
from django.db.models.functions import Now

from .batch import Batch
from .order import Order
from .statuses import Status


class OrderEvent(models.Model):
    """One transition of an order: its timeline, with what the provider answered."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    # The order's batch, copied: the batch page reads its recent calls through one index
    # (batch, at) instead of joining every order of a 20,000-order batch.
    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=16, choices=Status.choices)
    to_status = models.CharField(max_length=16, choices=Status.choices)
    # The database's clock, never a host's: reconciliation compares these moments across
    # hosts to prove an order absent (submissions/driver/reconcile.py).
    at = models.DateTimeField(db_default=Now())
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    detail = models.TextField(blank=True, help_text="The provider's raw answer or the error.")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )

    class Meta:
        ordering = ["at", "id"]
        indexes = [
            models.Index(fields=["order", "at"], name="event_order_idx"),
            models.Index(fields=["batch", "at"], name="event_batch_at_idx"),
            models.Index(fields=["to_status", "at"], name="event_status_at_idx"),
        ]

    def __str__(self):
        return f"{self.from_status} -> {self.to_status} at {self.at:%Y-%m-%d %H:%M:%S}"

    def save(self, *args, **kwargs):
        if self.batch_id is None:
            self.batch_id = Order.objects.values_list("batch_id", flat=True).get(pk=self.order_id)
        super().save(*args, **kwargs)


def latency_ms(seconds):
    return None if seconds is None else round(seconds * 1000)
