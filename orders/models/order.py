"""An order and its transitions.

`Order.status` moves only through the transition methods below. Each checks the current state
with a conditional UPDATE (so two workers can never both move the same order), sets the related
fields together and records an OrderEvent. See docs/architecture.md for the state diagram.
Moving many orders at once: `Order.objects` (orders/models/manager.py).
"""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now
from django.utils import timezone

from .answers import Placed
from .batch import Batch
from .manager import OrderManager
from .moving import ConditionalMoves
from .service import Service
from .statuses import Status, StatusGroups


class Order(StatusGroups, ConditionalMoves):
    Status = Status  # and the status groups: orders/models/statuses.py

    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="orders")
    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="orders")
    imei = models.CharField("IMEI", max_length=15)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    remote_id = models.BigIntegerField("provider order id", null=True, blank=True)
    placed_without_id = models.BooleanField(
        default=False,
        help_text="The provider holds this order but its id was lost (answer never received).",
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claim_token = models.UUIDField(null=True, blank=True, editable=False)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # When an operator last re-submitted it: how long it has been open counts from here.
    resubmitted_at = models.DateTimeField(null=True, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    next_poll_at = models.DateTimeField(null=True, blank=True)
    cost = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal("0"))
    # The result, raw as the provider sent it and parsed for filtering and export.
    result_code = models.TextField("raw result code", blank=True)
    result_text = models.TextField("result", blank=True)
    model_name = models.CharField("model", max_length=200, blank=True)
    carrier = models.CharField(max_length=200, blank=True)
    simlock = models.CharField("SIM lock", max_length=100, blank=True)
    fmi = models.CharField("Find My iPhone", max_length=50, blank=True)
    imei2 = models.CharField("IMEI 2", max_length=20, blank=True)
    serial = models.CharField("serial number", max_length=50, blank=True)
    gsma_status = models.CharField("GSMA status", max_length=100, blank=True)
    purchase_date = models.CharField("estimated purchase date", max_length=50, blank=True)
    applecare = models.CharField("AppleCare eligible", max_length=50, blank=True)

    objects = OrderManager()

    class Meta:
        ordering = ["-id"]
        permissions = [
            ("import_order", "Can import orders from a file"),
            ("resubmit_order", "Can re-submit failed orders"),
            ("export_order", "Can export orders"),
            ("cancel_batch", "Can pause, resume and cancel batches"),
            # Spend: the second pair of eyes on a batch over APPROVAL_THRESHOLD.
            ("approve_batch", "Can approve batches over the approval threshold"),
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="order_claim_idx"),
            # The claim's order (oldest batch, then upload order), queued orders only: a claim
            # reads the few rows it takes, however long the queue.
            models.Index(
                fields=["batch", "id"], condition=Q(status="queued"), name="order_queued_idx"
            ),
            models.Index(fields=["batch", "status"], name="order_batch_status_idx"),
            models.Index(fields=["status", "next_poll_at"], name="order_poll_idx"),
            models.Index(fields=["imei", "service"], name="order_imei_service_idx"),
            models.Index(fields=["status", "lease_expires_at"], name="order_lease_idx"),
            models.Index(fields=["remote_id"], name="order_remote_idx"),
            models.Index(fields=["created_at"], name="order_created_idx"),
            # Only orders with an error: the batch page groups them without reading the rest.
            models.Index(
                fields=["batch"], condition=~Q(last_error=""), name="order_batch_error_idx"
            ),
        ]

    def __str__(self):
        return f"{self.imei} ({self.get_status_display()})"

    # -- transitions ---------------------------------------------------------------------------

    def mark_placed(self, remote_id, remote_status, raw, latency=None):
        """submitting -> pending (in_process if the provider said so): it charged us.

        Also from unknown, and from `submitting` under a newer claim: an answer that arrives
        after the order was given up on (its call outlived the lease) still proves the order
        exists, and its id must not be lost. The only transition that ignores the claim: it
        records a fact and never leads to a send; the newer call's answer is then refused.
        """
        placed = Placed(self, remote_id, remote_status, raw, latency)
        return bool(Order.objects.mark_placed_in_bulk([placed]))

    def mark_duplicate(self, raw, latency=None):
        """The provider answered `IMEI already exists!`.

        On a first send this is a plain duplicate: nothing was charged. After an earlier send
        whose answer was lost, it means that send was placed: charged once, id unknown.
        """
        placed_before = self.placed_without_id or self.had_unknown_outcome()
        error = (
            "Placed by an earlier send whose answer was lost: the provider holds this IMEI "
            "(charged once), but its order id and result are unknown."
            if placed_before
            else "IMEI already exists at the provider: not sent again, not charged."
        )
        return self._move(
            [self.Status.SUBMITTING],
            self.Status.DUPLICATE,
            detail=raw,
            latency=latency,
            placed_without_id=placed_before,
            cost=self.service.price if placed_before else Decimal("0"),
            finished_at=timezone.now(),
            lease_expires_at=None,
            last_error=error,
        )

    def had_unknown_outcome(self):
        """Did an earlier send of this order end without knowing whether it was placed?

        Only such a send can have been charged; a retry after 429/503/refused cannot.
        """
        return self.events.filter(to_status=self.Status.UNKNOWN).exists()

    def mark_retry(self, error, delay, latency=None, max_attempts=None):
        """A transient failure: the order was not created. Back to queued, or failed at last."""
        max_attempts = max_attempts or settings.SUBMIT_MAX_ATTEMPTS
        if self.attempts >= max_attempts:
            return self.mark_failed(f"Gave up after {self.attempts} attempts: {error}", latency)
        return self._move(
            [self.Status.SUBMITTING],
            self.Status.QUEUED,
            detail=error,
            latency=latency,
            next_attempt_at=timezone.now() + delay,
            lease_expires_at=None,
            last_error=error,
        )

    def release(self, reason, shown=True):
        """submitting -> queued without spending an attempt (the call never went out).

        `shown`: the reason becomes the order's last error too.
        """
        return self._move(
            [self.Status.SUBMITTING],
            self.Status.QUEUED,
            detail=reason,
            attempts=max(self.attempts - 1, 0),
            lease_expires_at=None,
            **({"last_error": reason} if shown else {}),
        )

    def unclaim(self, reason):
        """submitting -> queued for an order claimed ahead and never sent: as if never claimed.

        No attempt spent and no error shown: the driver only held it in memory for a free slot
        (see submissions/driver/ahead.py).
        """
        return self.release(reason, shown=False)

    def mark_failed(self, error, latency=None):
        """The answer to this object's call: only under its claim (a stale answer fails no
        order that was released or re-claimed since)."""
        return self._move(
            [self.Status.SUBMITTING],
            self.Status.FAILED,
            detail=error,
            latency=latency,
            finished_at=timezone.now(),
            lease_expires_at=None,
            last_error=error,
        )

    def fail_by_operator(self, actor, reason):
        """An operator gives up on a queued order, or on an unknown one they checked with the
        provider: failed with their reason (then it may be re-submitted, or ordered again)."""
        return self._move(
            [self.Status.QUEUED, self.Status.UNKNOWN],
            self.Status.FAILED,
            detail=reason,
            actor=actor,
            finished_at=timezone.now(),
            last_error=reason,
        )

    def mark_unknown(self, reason, latency=None, lease_expired=False):
        """The call may have reached the provider: never re-send it without an operator.

        `lease_expired` (the crash sweep): only if the lease is still expired by the
        database's clock when the UPDATE runs, so a lease renewed meanwhile wins.
        """
        return self._move(
            [self.Status.SUBMITTING],
            self.Status.UNKNOWN,
            detail=reason,
            latency=latency,
            where=Q(lease_expires_at__lt=Now()) if lease_expired else None,
            lease_expires_at=None,
            last_error=reason,
        )

    def requeue_not_placed(self, reason):
        """failed/unknown -> queued, attempts reset: the provider is known not to hold it.

        For an account-wide refusal (nothing was created) and for an unknown order whose whole
        id window was read without finding it (reconciliation): sending it is not a resend.
        """
        return self._move(
            [self.Status.FAILED, self.Status.UNKNOWN],
            self.Status.QUEUED,
            detail=reason,
            attempts=0,
            next_attempt_at=None,
            finished_at=None,
            lease_expires_at=None,
            last_error=reason,
        )

    def note_unresolved(self, note):
        """An unknown order stays unknown: its timeline says why, once per distinct reason."""
        last = self.events.order_by("-at", "-id").values_list("detail", flat=True).first()
        if last == note:
            return False
        return self._move([self.Status.UNKNOWN], self.Status.UNKNOWN, detail=note)

    def cancel(self, actor=None, detail="Cancelled before it was sent."):
        return self._move(
            [self.Status.QUEUED],
            self.Status.CANCELLED,
            detail=detail,
            actor=actor,
            finished_at=timezone.now(),
        )

    def requeue(self, actor=None, include_unknown=False):
        """An operator re-submits a failed (or, knowingly, an unknown) order."""
        allowed = [self.Status.FAILED] + ([self.Status.UNKNOWN] if include_unknown else [])
        note = "Re-submitted by an operator."
        if self.status == self.Status.UNKNOWN:
            note += " The earlier send may have been placed; a duplicate answer will say so."
        return self._move(
            allowed,
            self.Status.QUEUED,
            detail=note,
            actor=actor,
            # Once an order may have been placed, it stays so: a later `IMEI already exists!`
            # then means "charged once", whatever happened in between.
            placed_without_id=self.placed_without_id or self.status == self.Status.UNKNOWN,
            attempts=0,
            next_attempt_at=None,
            finished_at=None,
            resubmitted_at=timezone.now(),
        )
