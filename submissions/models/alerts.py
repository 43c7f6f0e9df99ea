"""Alerts: one record per spell of a condition that needs a person (submissions/alerts.py)."""

from django.db import models
from django.utils import timezone


class Alert(models.Model):
    """One spell of a condition that needs a person: opened, then closed when it clears.

    At most one open alert per condition (the partial unique constraint); each is mailed once
    when it opens and once when it clears (`open_mailed_at`, `clear_mailed_at`).
    """

    key = models.CharField(max_length=40)
    title = models.CharField(max_length=200)
    detail = models.TextField(blank=True, help_text="The latest evaluation's figures.")
    opened_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)
    checked_at = models.DateTimeField(default=timezone.now)
    open_mailed_at = models.DateTimeField(null=True, blank=True)
    clear_mailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-opened_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["key"], condition=models.Q(closed_at=None), name="alert_one_open_per_key"
            )
        ]
        indexes = [models.Index(fields=["closed_at", "opened_at"], name="alert_open_idx")]

    def __str__(self):
        return self.title

    @property
    def is_open(self):
        return self.closed_at is None
