"""The provider's catalogue: one row per package."""

from django.db import models


class Service(models.Model):
    """One package of the provider's catalogue (`imeiservices`)."""

    id = models.PositiveIntegerField(primary_key=True, verbose_name="package id")
    title = models.CharField(max_length=500)
    category = models.CharField(max_length=500, blank=True)
    price = models.DecimalField(max_digits=10, decimal_places=2)
    delivery_time = models.CharField(max_length=200, blank=True)
    must_read = models.TextField(
        blank=True, help_text="The provider's notes (HTML, shown escaped)."
    )
    active = models.BooleanField(default=True, help_text="Still listed by the provider.")
    synced_at = models.DateTimeField(null=True, blank=True)
    # Spend: the price list's word on rejected orders; the ledger refunds them.
    refunds_rejected = models.BooleanField(
        "rejected orders refunded",
        default=False,
        help_text="The provider does not charge orders it rejects (the spend ledger refunds them).",
    )

    class Meta:
        ordering = ["title"]

    def __str__(self):
        return f"{self.title} (${self.price}, {self.delivery_time or 'time unknown'})"
