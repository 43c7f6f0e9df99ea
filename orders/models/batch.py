"""An upload's batch of orders and its states: each state change one conditional UPDATE."""

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from .approval import BatchApproval
from .service import Service
from .statuses import StatusGroups


class Batch(BatchApproval):
    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        PAUSED = "paused", "Paused"
        CANCELLED = "cancelled", "Cancelled"
        DONE = "done", "Done"
        # Spend: its cost is over APPROVAL_THRESHOLD; nothing is sent until a
        # different staff member approves it (submissions/approval.py).
        AWAITING_APPROVAL = "awaiting", "Awaiting approval"

    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="batches")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    source_name = models.CharField("source file", max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Priority(models.TextChoices):
        LOW = "low", "Low"
        NORMAL = "normal", "Normal"
        HIGH = "high", "High"
        # "Check now" (docs/urgent.md): claimed before every other batch, never set by hand.
        URGENT = "urgent", "Urgent (check now)"

    state = models.CharField(max_length=16, choices=State.choices, default=State.QUEUED)
    note = models.TextField(blank=True, help_text="Shown to operators on the batch page.")
    # Time spent paused (or done, before a re-submit ran it again) is not time spent running:
    # the batch page's elapsed time leaves it out and its rates start at the last resume.
    paused_at = models.DateTimeField(null=True, blank=True)
    paused_seconds = models.FloatField(default=0)
    resumed_at = models.DateTimeField(null=True, blank=True)
    # Spend: who approved a batch over APPROVAL_THRESHOLD (or rejected it), when.
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="approved_batches",
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    approval_requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Who imported or re-submitted it over the threshold: never its approver.",
    )
    priority = models.CharField(
        max_length=8,
        choices=Priority.choices,
        default=Priority.NORMAL,
        help_text="Running batches share the sending slots in proportion: low 1, normal 2, high 4.",
    )
    results_mailed_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="When the results e-mail went out."
    )

    # Batches whose queued orders are sent (paused, awaiting, cancelled and done ones are not).
    LIVE_STATES = [State.QUEUED, State.RUNNING]
    # The priorities an operator may choose (urgent is the "check now" box's).
    SETTABLE_PRIORITIES = [Priority.LOW, Priority.NORMAL, Priority.HIGH]

    class Meta:
        verbose_name_plural = "batches"
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["state", "created_at"])]

    def __str__(self):
        return f"Batch {self.pk} ({self.source_name or 'no file'})"

    def _move(self, allowed, new_state, note=None, **fields):
        """Move the batch from one of `allowed` to `new_state`; False if it was elsewhere."""
        fields["state"] = new_state
        if note is not None:
            fields["note"] = note
        changed = Batch.objects.filter(pk=self.pk, state__in=allowed).update(**fields)
        if changed:
            for name, value in fields.items():
                setattr(self, name, value)
        return bool(changed)

    def mark_running(self):
        return self._move([self.State.QUEUED], self.State.RUNNING, started_at=timezone.now())

    def pause(self, note):
        allowed = [self.State.QUEUED, self.State.RUNNING]
        return self._move(allowed, self.State.PAUSED, note=note, paused_at=timezone.now())

    def resume(self):
        """Paused (or done, for a re-submit) -> running. The time it stood still since it was
        paused (or finished) is added to `paused_seconds`."""
        now = timezone.now()
        row = Batch.objects.filter(pk=self.pk).values(
            "state", "paused_at", "finished_at", "paused_seconds"
        )
        row = row.first() or {"state": None, "paused_seconds": 0}
        since = {self.State.PAUSED: "paused_at", self.State.DONE: "finished_at"}.get(row["state"])
        stood = row.get(since) if since else None
        still = (now - stood).total_seconds() if stood else 0
        return self._move(
            [self.State.PAUSED, self.State.DONE],
            self.State.RUNNING,
            note="",
            paused_at=None,
            resumed_at=now,
            paused_seconds=row["paused_seconds"] + still,
        )

    def cancel(self, note):
        allowed = [self.State.QUEUED, self.State.RUNNING, self.State.PAUSED]
        return self._move(allowed, self.State.CANCELLED, note=note, finished_at=timezone.now())

    def set_priority(self, priority):
        """An operator's priority for an ordinary batch; False for an urgent one or no change."""
        if priority not in self.SETTABLE_PRIORITIES or self.priority == priority:
            return False
        changed = Batch.objects.filter(pk=self.pk, priority__in=self.SETTABLE_PRIORITIES).update(
            priority=priority
        )
        if changed:
            self.priority = priority
        return bool(changed)

    def claim_results_mail(self):
        """Done, not mailed yet -> mailed now: one conditional UPDATE, so the mail goes once."""
        now = timezone.now()
        claimed = Batch.objects.filter(
            pk=self.pk, state=self.State.DONE, results_mailed_at__isnull=True
        ).update(results_mailed_at=now)
        if claimed:
            self.results_mailed_at = now
        return bool(claimed)

    def mark_done(self):
        """Running -> done once no order of the batch is still open.

        Checked under the batch's row lock, which a re-submit also takes before it reads the
        state: otherwise each could miss the other (the re-submit sees "running" and does not
        resume, this sees no open order) and leave queued orders in a done batch.
        """
        with transaction.atomic():
            running = Batch.objects.select_for_update(no_key=True).filter(
                pk=self.pk, state=self.State.RUNNING
            )
            if running.values_list("pk", flat=True).first() is None:
                return False
            if self.orders.filter(status__in=StatusGroups.OPEN_STATUSES).exists():
                return False
            return self._move([self.State.RUNNING], self.State.DONE, finished_at=timezone.now())
