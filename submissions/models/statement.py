"""The daily statement's runs and the lines on which the two books differ."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class StatementRun(models.Model):
    """One reading of a day's orders back from the provider (submissions/statement.py).

    Only the lines that are not a plain match are kept (StatementLine); matched orders are
    counted here, and the export lists them from the orders themselves.
    """

    class Outcome(models.TextChoices):
        MATCHED = "matched", "Books agree"
        MISMATCH = "mismatch", "Books differ"
        INCOMPLETE = "incomplete", "Not all read"

    day = models.DateField(db_index=True)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, blank=True)
    matched = models.PositiveIntegerField(default=0)
    provider_only = models.PositiveIntegerField(default=0)
    portal_only = models.PositiveIntegerField(default=0)
    mismatched = models.PositiveIntegerField(default=0)
    unread = models.PositiveIntegerField(default=0, help_text="Ids whose getimeis call failed.")
    ids_read = models.PositiveIntegerField(default=0)
    calls = models.PositiveIntegerField(default=0)
    provider_charged = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    provider_refunds = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    portal_recorded = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    portal_refunds = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    difference = models.DecimalField(
        max_digits=14, decimal_places=2, default=0, help_text="Provider charged - portal recorded."
    )
    note = models.TextField(blank=True, help_text="What could not be read, and why.")
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )

    class Meta:
        ordering = ["-day", "-started_at"]
        verbose_name = "daily statement"

    def __str__(self):
        return f"Statement {self.day:%Y-%m-%d}"


class StatementLine(models.Model):
    """One order on which the provider's books and ours do not simply agree."""

    class Kind(models.TextChoices):
        PROVIDER_ONLY = "provider_only", "Provider only (charged, no record here)"
        PORTAL_ONLY = "portal_only", "Portal only (unknown to the provider)"
        AMOUNT = "amount", "Amount differs"
        STATUS = "status", "Status differs"

    run = models.ForeignKey(StatementRun, on_delete=models.CASCADE, related_name="lines")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    order_id = models.BigIntegerField("portal order", null=True, blank=True)
    remote_id = models.BigIntegerField("provider order id", null=True, blank=True)
    imei = models.CharField("IMEI", max_length=15, blank=True)
    service = models.CharField(max_length=500, blank=True)
    provider_status = models.CharField(max_length=40, blank=True)
    portal_status = models.CharField(max_length=16, blank=True)
    provider_amount = models.DecimalField(max_digits=10, decimal_places=2, default=0)
    portal_amount = models.DecimalField(max_digits=10, decimal_places=2, default=0)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["kind", "remote_id", "id"]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.remote_id or self.order_id}"
