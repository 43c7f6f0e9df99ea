"""The spend ledger, its daily totals, and the price rises that hold batches."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class SpendEntry(models.Model):
    """One line of the spend ledger: append-only, written by a database trigger.

    The trigger on orders_order (migration 0011) writes a line whenever an order's status
    change moves money: `reserve` at the claim (+ the service's price), `charge` when the
    provider created it (the difference to its reservation), `release` when the call proved
    nothing was created, `refund` when it was rejected and the price list says rejected orders
    are not charged (minus what it held). `delta` is the change of committed spend (reserved
    plus charged); an order's lines sum to what it holds now.
    """

    class Kind(models.TextChoices):
        RESERVE = "reserve", "Reserved"
        CHARGE = "charge", "Charged"
        RELEASE = "release", "Released"
        REFUND = "refund", "Refunded"

    order = models.ForeignKey("orders.Order", on_delete=models.DO_NOTHING, db_constraint=False)
    service = models.ForeignKey("orders.Service", on_delete=models.DO_NOTHING, db_constraint=False)
    batch = models.ForeignKey("orders.Batch", on_delete=models.DO_NOTHING, db_constraint=False)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    amount = models.DecimalField(max_digits=10, decimal_places=2)
    delta = models.DecimalField(max_digits=10, decimal_places=2)
    at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "spend entries"
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["order"], name="spend_order_idx"),
            models.Index(fields=["at"], name="spend_at_idx"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} ${self.amount} (order {self.order_id})"


class SpendPending(models.Model):
    """A ledger line's `delta` not yet added to SpendDay: a small queue, emptied by claims.

    Only a claim (under the dispatcher lock) empties it, so the totals are exact without any
    lock on a counter row: lines of transactions not yet committed are invisible to it and
    stay for the next claim (submissions/spend.py).
    """

    service_id = models.PositiveIntegerField()
    delta = models.DecimalField(max_digits=10, decimal_places=2)
    at = models.DateTimeField()

    def __str__(self):
        return f"{self.delta} (service {self.service_id})"


class SpendDay(models.Model):
    """Committed spend (reserved plus charged, less released and refunded) per day and service."""

    day = models.DateField()
    service_id = models.PositiveIntegerField()
    committed = models.DecimalField(max_digits=14, decimal_places=2, default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["day", "service_id"], name="spend_day_unique")
        ]

    def __str__(self):
        return f"{self.day} service {self.service_id}: ${self.committed}"


class PriceRise(models.Model):
    """A service's price went up at a catalogue sync: its batches hold until acknowledged."""

    service = models.ForeignKey("orders.Service", on_delete=models.CASCADE)
    old_price = models.DecimalField(max_digits=10, decimal_places=2)
    new_price = models.DecimalField(max_digits=10, decimal_places=2)
    detected_at = models.DateTimeField(default=timezone.now)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-detected_at"]
        permissions = [("acknowledge_pricerise", "Can acknowledge a service's new price")]

    def __str__(self):
        return f"{self.service_id}: ${self.old_price} -> ${self.new_price}"
