"""The audit trail of actions that moved money or sending."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class AuditRecord(models.Model):
    """One action that moved money or sending: append-only, each row hashing the one before.

    Written only by `submissions.audit.record`; `manage.py verifyaudit` recomputes the chain.
    """

    at = models.DateTimeField(default=timezone.now)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    username = models.CharField(max_length=150, blank=True)  # kept if the user is deleted
    action = models.CharField(max_length=40)
    amount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    detail = models.TextField(blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.username or '-'} {self.action}"
