"""The dispatcher: one row that every worker locks to claim orders.

Claiming under this lock is what makes the in-flight cap global across workers and hosts: a
driver counts the orders in `submitting` and claims at most the free slots, all in one
transaction. The row also carries the adaptive limit after 429s and the driver's lease.
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


class Breaker(models.Model):
    """The circuit breaker for provider-wide faults (see submissions/breaker.py): one row.

    Closed while `opened_at` is empty. Kept in the database so that the next driver, the
    batch page and the admin index all see the same state.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    opened_at = models.DateTimeField(null=True, blank=True)
    next_probe_at = models.DateTimeField(null=True, blank=True)
    probe_seconds = models.PositiveIntegerField(default=0)
    probes = models.PositiveIntegerField(default=0, help_text="Probe calls since it opened.")
    reason = models.TextField(blank=True, help_text="The error that opened it.")
    closed_at = models.DateTimeField(null=True, blank=True)

    ROW_ID = 1

    class Meta:
        verbose_name = "provider circuit breaker"

    def __str__(self):
        return "Provider circuit breaker"

    @classmethod
    def get(cls):
        return cls.objects.get_or_create(pk=cls.ROW_ID)[0]

    @classmethod
    def row(cls):
        return cls.objects.filter(pk=cls.ROW_ID)
