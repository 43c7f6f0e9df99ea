"""The dispatcher: one row that every worker locks to claim orders.

Claiming under this lock is what makes the in-flight cap global across workers and hosts: a
driver counts the orders in `submitting` and claims at most the free slots, all in one
transaction. The row also carries the driver's lease and the limits' shared state (the limit
lowered after 429s, the send-rate bucket): every driver reads them, so they survive handovers.
"""

from django.db import models


class Dispatcher(models.Model):
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

    class Meta:
        verbose_name = "dispatcher"

    def __str__(self):
        return "Provider dispatcher"

    ROW_ID = 1  # there is exactly one dispatcher row

    @classmethod
    def get(cls):
        return cls.objects.get_or_create(pk=cls.ROW_ID)[0]

    @classmethod
    def row(cls):
        """The dispatcher row as a queryset, for conditional UPDATEs and locks."""
        return cls.objects.filter(pk=cls.ROW_ID)
