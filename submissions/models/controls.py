"""The operator's live sending controls and the record of each change."""

from django.conf import settings
from django.db import models

from .one_row import OneRow


class Control(OneRow, models.Model):
    """The operator's live sending controls: one row, read by every driver each few seconds.

    Empty values mean "as configured" (SUBMIT_CONCURRENCY, SUBMIT_RATE_PER_MINUTE). Changed only
    through `submissions.controls.change`, which records each change as a ControlChange.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    concurrency = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="placeorder calls in flight for the account; empty = SUBMIT_CONCURRENCY.",
    )
    rate_per_minute = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="placeorder calls per minute; 0 = no limit; empty = SUBMIT_RATE_PER_MINUTE.",
    )
    sending_stopped = models.BooleanField(
        "stop all sending",
        default=False,
        help_text="No new order is sent; calls already in flight finish and are recorded.",
    )
    # Spend: empty = SPEND_CAP_DAILY, SPEND_CAP_MONTHLY, APPROVAL_THRESHOLD.
    spend_cap_daily = models.DecimalField(
        "daily spend cap", max_digits=12, decimal_places=2, null=True, blank=True,
        help_text="USD reserved or charged per day; empty = SPEND_CAP_DAILY.",
    )  # fmt: skip
    spend_cap_monthly = models.DecimalField(
        "monthly spend cap", max_digits=12, decimal_places=2, null=True, blank=True,
        help_text="USD reserved or charged per calendar month; empty = SPEND_CAP_MONTHLY.",
    )  # fmt: skip
    approval_threshold = models.DecimalField(
        max_digits=12, decimal_places=2, null=True, blank=True,
        help_text="A batch costing more waits for a second person; empty = APPROVAL_THRESHOLD.",
    )  # fmt: skip
    updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "live control"
        permissions = [
            ("operate_sending", "Can change the live sending controls"),
            ("raise_spend_cap", "Can raise or remove the spend caps and approval threshold"),
        ]

    def __str__(self):
        return "Live sending controls"


class ControlChange(models.Model):
    """One change of a live control: who, when, from what to what."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    field = models.CharField(max_length=40)
    old_value = models.CharField(max_length=40, blank=True)
    new_value = models.CharField(max_length=40, blank=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self):
        return f"{self.field}: {self.old_value or 'default'} -> {self.new_value or 'default'}"
