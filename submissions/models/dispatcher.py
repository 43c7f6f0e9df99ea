"""The dispatcher: one row that every worker locks to claim orders.

Claiming under this lock is what makes the in-flight cap global across workers and hosts: a
driver counts the orders in `submitting` and claims at most the free slots, all in one
transaction. The row also carries the driver's lease and the limits' shared state (the limit
lowered after 429s, the send-rate bucket): every driver reads them, so they survive handovers.
"""

from django.db import models

from .one_row import OneRow


class Dispatcher(OneRow, models.Model):
    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    effective_concurrency = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Lowered after 429 answers; empty means the configured cap.",
    )
    last_throttled_at = models.DateTimeField(null=True, blank=True)
    limit_changed_at = models.DateTimeField(
        null=True, blank=True, help_text="Last halving or creep of the effective concurrency."
    )
    send_tokens = models.FloatField(
        null=True, blank=True, help_text="Sends the rate limit allows now (a token bucket)."
    )
    send_tokens_at = models.DateTimeField(null=True, blank=True)
    driver_token = models.UUIDField(null=True, blank=True)
    driver_expires_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    last_poll_at = models.DateTimeField(null=True, blank=True)
    # Written by the cluster (driver housekeeping, the every-minute tasks): /health/ reads it.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # The refusal rule's memory, shared by every driver (submissions/driver/refusals.py): the streak
    # of one refusal text in send order, and the account-wide refusal in force.
    refusal_text = models.TextField(blank=True)
    refusal_first_sent_at = models.DateTimeField(null=True, blank=True)
    refusal_first_order_id = models.BigIntegerField(null=True, blank=True)
    refusal_last_sent_at = models.DateTimeField(null=True, blank=True)
    refusal_last_order_id = models.BigIntegerField(null=True, blank=True)
    refusal_imeis = models.JSONField(default=list, blank=True)
    refused_account_wide = models.TextField(
        blank=True, help_text="The provider's refusal for the whole account, until a resume."
    )

    class Meta:
        verbose_name = "dispatcher"

    def __str__(self):
        return "Provider dispatcher"
