"""What holds sending back when the provider misbehaves: the circuit breaker for
provider-wide faults, the per-service breaker for garbage results, the contract canary."""

from django.conf import settings
from django.db import models

from .one_row import OneRow


class Breaker(OneRow, models.Model):
    """The circuit breaker for provider-wide faults (see submissions/driver/breaker.py): one row.

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

    class Meta:
        verbose_name = "provider circuit breaker"

    def __str__(self):
        return "Provider circuit breaker"


class ServiceHold(models.Model):
    """Per service: its recent results' quality, and the pause of its sending (garbage.py).

    `recent` holds one character per completed result, newest last: "x" garbage, "." fine.
    The claim skips the batches of a service while `paused_at` is set.
    """

    service = models.OneToOneField(
        "orders.Service", primary_key=True, on_delete=models.CASCADE, related_name="hold"
    )
    recent = models.CharField(max_length=500, blank=True)
    examples = models.JSONField(default=list, blank=True)
    paused_at = models.DateTimeField(null=True, blank=True, db_index=True)
    reason = models.TextField(blank=True)
    resumed_at = models.DateTimeField(null=True, blank=True)
    resumed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )

    class Meta:
        verbose_name = "service result breaker"

    def __str__(self):
        return f"Results of service {self.service_id}"


class ContractCheck(OneRow, models.Model):
    """The provider contract canary's last answer (submissions/canary.py): one row."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    checked_at = models.DateTimeField(null=True, blank=True)
    ok = models.BooleanField(default=True)
    problems = models.TextField(blank=True)
    failing_since = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, help_text="A call that could not be made.")

    class Meta:
        verbose_name = "provider contract check"

    def __str__(self):
        return "Provider contract canary"
