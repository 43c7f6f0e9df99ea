"""Services, batches, orders and each order's timeline.

`Order.status` moves only through the transition methods below. Each checks the current state
with a conditional UPDATE (so two workers can never both move the same order), sets the related
fields together and records an OrderEvent. See docs/architecture.md for the state diagram.
"""

import json
import uuid
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import connection, models, transaction
from django.db.models import Q
from django.db.models.functions import Now
from django.utils import timezone

from . import bulk


class Service(models.Model):
    """One package of the provider's catalogue (`imeiservices`)."""

    id = models.PositiveIntegerField(primary_key=True, verbose_name="package id")
    title = models.CharField(max_length=500)
    category = models.CharField(max_length=500, blank=True)
    price = models.DecimalField(max_digits=10, decimal_places=2)
    delivery_time = models.CharField(max_length=200, blank=True)
    must_read = models.TextField(
        blank=True, help_text="The provider's notes (HTML, shown escaped)."
    )
    active = models.BooleanField(default=True, help_text="Still listed by the provider.")
    synced_at = models.DateTimeField(null=True, blank=True)
    # Spend: the price list's word on rejected orders; the ledger refunds them.
    refunds_rejected = models.BooleanField(
        "rejected orders refunded",
        default=False,
        help_text="The provider does not charge orders it rejects (the spend ledger refunds them).",
    )

    class Meta:
        ordering = ["title"]

    def __str__(self):
        return f"{self.title} (${self.price}, {self.delivery_time or 'time unknown'})"


class Batch(models.Model):
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

    # -- spend: four eyes above APPROVAL_THRESHOLD ----------------------------------

    def await_approval(self, requested_by, note):
        """-> awaiting approval: an import or re-submit over the threshold, by `requested_by`."""
        allowed = [self.State.QUEUED, self.State.RUNNING, self.State.PAUSED, self.State.DONE]
        return self._move(
            allowed,
            self.State.AWAITING_APPROVAL,
            note=note,
            finished_at=None,
            approval_requested_by=requested_by,
            approved_by=None,
            approved_at=None,
        )

    def approve(self, user):
        """awaiting approval -> queued: the driver sends it (the claim starts it running)."""
        return self._move(
            [self.State.AWAITING_APPROVAL],
            self.State.QUEUED,
            note="",
            approved_by=user,
            approved_at=timezone.now(),
        )

    def reject(self, user, note):
        """awaiting approval -> cancelled (its queued orders are cancelled by the caller)."""
        return self._move(
            [self.State.AWAITING_APPROVAL],
            self.State.CANCELLED,
            note=note,
            approved_by=user,
            approved_at=timezone.now(),
            finished_at=timezone.now(),
        )

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
            if self.orders.filter(status__in=Order.OPEN_STATUSES).exists():
                return False
            return self._move([self.State.RUNNING], self.State.DONE, finished_at=timezone.now())


class OrderQuerySet(models.QuerySet):
    def due_for_submit(self, now=None):
        now = now or timezone.now()
        return self.filter(
            status=Order.Status.QUEUED,
            batch__state__in=Batch.LIVE_STATES,
        ).filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))

    def claimable(self):
        """Queued orders read for a claim (`Order.claim`): locked, skipping rows another
        transaction holds, with what sending them needs."""
        return (
            self.filter(status=Order.Status.QUEUED)
            .select_related("service")
            # `claimed_at` by the database's clock: a 429 counts only for calls sent after the
            # last halving of the limit (submissions.driver.limits), whichever host halved it.
            .annotate(
                claimed_at=Now(),
                batch_state=models.F("batch__state"),
                batch_priority=models.F("batch__priority"),
            )
            .select_for_update(skip_locked=True, of=("self",))
        )

    def in_flight(self):
        return self.filter(status=Order.Status.SUBMITTING)

    def awaiting_result(self):
        return self.filter(status__in=Order.AWAITING_RESULT_STATUSES)


class Order(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SUBMITTING = "submitting", "Submitting"
        PENDING = "pending", "Pending"
        IN_PROCESS = "in_process", "In process"
        COMPLETED = "completed", "Completed"
        REJECTED = "rejected", "Rejected"
        DUPLICATE = "duplicate", "Duplicate"
        FAILED = "failed", "Failed"
        UNKNOWN = "unknown", "Unknown outcome"
        CANCELLED = "cancelled", "Cancelled"

    # The status groups: the one definition every page, count and query uses.
    # Not yet at the provider (or on its way there).
    UNSENT_STATUSES = [Status.QUEUED, Status.SUBMITTING]
    # Placed, its result not in yet: what polling asks about.
    AWAITING_RESULT_STATUSES = [Status.PENDING, Status.IN_PROCESS]
    # Open: the order still moves without anyone acting. Every other status is final.
    OPEN_STATUSES = [*UNSENT_STATUSES, *AWAITING_RESULT_STATUSES]
    # Placed at the provider, with its id.
    SENT_STATUSES = [*AWAITING_RESULT_STATUSES, Status.COMPLETED, Status.REJECTED]
    # Final and in need of a person: the only ones an operator re-submits.
    PROBLEM_STATUSES = [Status.FAILED, Status.UNKNOWN]
    # The provider may hold this IMEI for the service: a new order for it would be a duplicate.
    MAY_BE_PLACED_STATUSES = [*SENT_STATUSES, Status.SUBMITTING, Status.UNKNOWN]
    # Never placed and never will be: the IMEI may be ordered again.
    NOT_PLACED_STATUSES = [Status.FAILED, Status.CANCELLED]
    # Where a failed placeorder call takes an order (an event's `to_status`).
    CALL_ERROR_STATUSES = [Status.QUEUED, *PROBLEM_STATUSES]
    # Where any ended placeorder call takes an order (an event's `to_status`).
    CALL_OUTCOME_STATUSES = [s for s in Status.values if s not in ("submitting", "cancelled")]
    # The provider answered the call: placed, or refused as a duplicate.
    ANSWERED_STATUSES = [*SENT_STATUSES, Status.DUPLICATE]
    # A call on its way or a result to come: a driver still has work.
    IN_HAND_STATUSES = [Status.SUBMITTING, *AWAITING_RESULT_STATUSES]
    # The provider's final word on a placed order.
    RESULT_STATUSES = [Status.COMPLETED, Status.REJECTED]
    # The provider's status words (getimeis, placeorder) and where they take an order.
    REMOTE_STATUSES = {
        "pending": Status.PENDING,
        "in process": Status.IN_PROCESS,
        "completed": Status.COMPLETED,
        "rejected": Status.REJECTED,
    }

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

    objects = OrderQuerySet.as_manager()

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

    def _move(
        self,
        allowed,
        new_status,
        detail="",
        latency=None,
        actor=None,
        where=None,
        any_claim=False,
        **fields,
    ):
        """Move this order from one of `allowed` to `new_status` and record the event.

        A conditional UPDATE: it returns False (and changes nothing) when another worker moved
        the order first, so callers never act on a state they do not own. Out of `submitting`
        it must also be this object's claim (`claim_token`): an answer to an older call of a
        re-submitted, re-claimed order never moves the newer claim (`any_claim` lifts that,
        for recording a placed order only). `where` adds conditions.
        """
        event = self.event(self.status, new_status, detail, latency, actor)
        fields["status"] = new_status
        owned = Q(status__in=allowed) if any_claim else self._owned(allowed)
        matching = Order.objects.filter(owned, pk=self.pk).filter(where or Q())
        queued = bulk.queued_events()
        if queued is not None:
            # Inside `transitions_in_bulk`: its transaction holds this UPDATE and its one
            # INSERT of every event at the end.
            if not matching.update(**fields):
                return False
            queued.append(event)
        else:
            with transaction.atomic():
                if not matching.update(**fields):
                    return False
                event.save()
        for name, value in fields.items():
            if not hasattr(value, "resolve_expression"):
                setattr(self, name, value)
        return True

    def _owned(self, allowed):
        """`allowed` statuses, with `submitting` only under this object's claim."""
        others = [status for status in allowed if status != self.Status.SUBMITTING]
        owned = Q(status__in=others)
        if self.Status.SUBMITTING in allowed:
            owned |= Q(status=self.Status.SUBMITTING, claim_token=self.claim_token)
        return owned

    def mark_placed(self, remote_id, remote_status, raw, latency=None):
        """submitting -> pending (in_process if the provider said so): it charged us.

        Also from unknown, and from `submitting` under a newer claim: an answer that arrives
        after the order was given up on (its call outlived the lease) still proves the order
        exists, and its id must not be lost. The only transition that ignores the claim: it
        records a fact and never leads to a send; the newer call's answer is then refused.
        """
        placed = Placed(self, remote_id, remote_status, raw, latency)
        return bool(Order.mark_placed_in_bulk([placed]))

    @classmethod
    def mark_placed_in_bulk(cls, answers):
        """`mark_placed` for many `Placed` answers in one UPDATE; returns the orders it moved.

        The driver records a loop turn's placed answers this way: one statement instead of one
        per answer. An order no longer `submitting` or `unknown` (its answer recorded already)
        is left as it is. Two answers for one order (it was claimed again meanwhile) are
        recorded one after the other.
        """
        if not answers:
            return []
        if len({answer.order.pk for answer in answers}) < len(answers):
            return [a.order for a in answers if cls.mark_placed_in_bulk([a])]
        now = timezone.now()
        by_pk = {answer.order.pk: answer for answer in answers}
        placed = {pk: answer.status for pk, answer in by_pk.items()}
        moving = cls.objects.filter(
            pk__in=by_pk, status__in=[cls.Status.SUBMITTING, cls.Status.UNKNOWN]
        )
        with transaction.atomic(savepoint=False):
            changes = {
                pk: {"status": a.status, "remote_id": a.remote_id, "cost": a.order.service.price}
                for pk, a in by_pk.items()
            }
            moved = moving.update(
                **{
                    name: bulk.per_order(cls, name, changes)
                    for name in ("status", "remote_id", "cost")
                },
                submitted_at=now,
                next_poll_at=now,
                lease_expires_at=None,
                last_error="",
            )
            if moved < len(by_pk):
                # Some were recorded already: this UPDATE stamped the ones it moved with `now`.
                stamped = cls.objects.filter(pk__in=by_pk, submitted_at=now)
                by_pk = {pk: by_pk[pk] for pk in stamped.values_list("pk", flat=True)}
            bulk.save_events(
                [
                    a.order.event(a.order.status, placed[pk], a.raw, a.latency)
                    for pk, a in by_pk.items()
                ]
            )
        for pk, answer in by_pk.items():
            order = answer.order
            order.status, order.remote_id = placed[pk], answer.remote_id
            order.cost, order.last_error = order.service.price, ""
            order.submitted_at = order.next_poll_at = now
            order.lease_expires_at = None
        return [answer.order for answer in by_pk.values()]

    def event(self, from_status, to_status, detail, latency=None, actor=None):
        return OrderEvent(
            order_id=self.pk,
            batch_id=self.batch_id,
            from_status=from_status,
            to_status=to_status,
            latency_ms=latency_ms(latency),
            detail=detail,
            actor=actor,
        )

    def claim_event(self):
        """queued -> submitting, at the moment the claim read the order by the database's clock
        (`claimable()`): the send order the refusal rule follows (submissions/driver/refusals.py).
        """
        event = self.event(self.Status.QUEUED, self.Status.SUBMITTING, "")
        if getattr(self, "claimed_at", None) is not None:
            event.at = self.claimed_at
        return event

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

    @classmethod
    def apply_remote_statuses(cls, answers):
        """getimeis answers (`Polled`) for awaiting orders; returns the orders they moved on.

        The orders a chunk moves are read with a row lock (their status now), then written by
        one prepared UPDATE sent for all of them at once (`executemany`), with an event each:
        a chunk of 100 results costs a few round trips, not 100. An unrecognised status is
        noted on the order's timeline, one order at a time (rare).
        """
        moved = [
            a.order
            for a in answers
            if a.status is None
            and a.order._move(
                [a.order.status], a.order.status, detail=f"Unrecognised provider status: {a.raw}"
            )
        ]
        moving = {a.order.pk: a for a in answers if a.status not in (None, a.order.status)}
        if not moving:
            return moved
        now = timezone.now()
        with transaction.atomic(savepoint=False):
            awaiting = cls.objects.filter(pk__in=moving, status__in=cls.AWAITING_RESULT_STATUSES)
            current = dict(awaiting.select_for_update().values_list("pk", "status"))
            moving = {pk: a for pk, a in moving.items() if current.get(pk) not in (None, a.status)}
            changes = {pk: a.changes(now) for pk, a in moving.items()}
            for names in {tuple(fields) for fields in changes.values()}:
                bulk.update_each(
                    cls, {pk: f for pk, f in changes.items() if tuple(f) == names}, names
                )
            bulk.save_events(
                [a.order.event(current[pk], a.status, a.raw) for pk, a in moving.items()]
            )
        for pk, answer in moving.items():
            for name, value in changes[pk].items():
                setattr(answer.order, name, value)
        return moved + [answer.order for answer in moving.values()]

    def cancel(self, actor=None, detail="Cancelled before it was sent."):
        return self._move(
            [self.Status.QUEUED],
            self.Status.CANCELLED,
            detail=detail,
            actor=actor,
            finished_at=timezone.now(),
        )

    @classmethod
    def insert_queued(cls, batch, imeis, now):
        """The batch's new orders, queued, in file order: one INSERT ... SELECT over the IMEIs
        passed as one array (SQLite json_each, PostgreSQL unnest), not 500 INSERTs of 40
        rows (SQLite's 999 parameters). 20,000 orders in a fraction of a second. Every other
        column takes its model default."""
        given = {"batch": batch.pk, "service": batch.service_id, "created_at": now}
        fields = [f for f in cls._meta.concrete_fields if not f.primary_key and f.name != "imei"]
        values = [
            f.get_db_prep_save(given.get(f.name, f.get_default()), connection) for f in fields
        ]
        quote = connection.ops.quote_name
        columns = ", ".join(quote(f.column) for f in [*fields, cls._meta.get_field("imei")])
        constants = ", ".join(["%s"] * len(fields))
        if connection.vendor == "postgresql":
            source = "unnest(%s::text[]) WITH ORDINALITY AS given(imei, n) ORDER BY given.n"
            listed = list(imeis)
        else:
            source = "json_each(%s) AS given ORDER BY given.key"
            listed = json.dumps(list(imeis))
        imei = "given.imei" if connection.vendor == "postgresql" else "given.value"
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {quote(cls._meta.db_table)} ({columns}) "
                f"SELECT {constants}, {imei} FROM {source}",
                [*values, listed],
            )

    @classmethod
    def cancel_queued(cls, batch_id, actor=None, detail="Cancelled before it was sent."):
        """queued -> cancelled for every queued order of a batch; returns how many.

        `cancel` for a whole batch, in a few statements instead of a transaction per order:
        one UPDATE (a row a worker is claiming is waited for, then skipped: it is no longer
        queued), then one INSERT ... SELECT of their events, found by the UPDATE's own
        timestamp. 20,000 orders in well under two seconds.
        """
        now = timezone.now()
        with transaction.atomic():
            if connection.vendor == "postgresql":
                moved = bulk.cancel_queued_counted(
                    batch_id, now, cls.Status.QUEUED, cls.Status.CANCELLED
                )
            else:  # SQLite's row triggers keep the counters, quickly enough
                queued = cls.objects.filter(batch_id=batch_id, status=cls.Status.QUEUED)
                moved = queued.update(status=cls.Status.CANCELLED, finished_at=now)
            if moved:
                cancelled = cls.objects.filter(
                    batch_id=batch_id, status=cls.Status.CANCELLED, finished_at=now
                )
                bulk.insert_events_of(cancelled, cls.Status.QUEUED, detail, actor, now)
        return moved

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

    @classmethod
    def claim(cls, orders, lease):
        """queued -> submitting for `orders`, all in one UPDATE; returns the claimed ones.

        `orders` were read with `claimable()` in the caller's transaction (which holds the
        dispatcher lock). Any moved by someone else meanwhile are simply not claimed (the
        UPDATE is conditional, and what it moved carries its claim token).
        """
        token = uuid.uuid4()
        pks = [order.pk for order in orders]
        with transaction.atomic(savepoint=False):
            moved = cls.objects.filter(pk__in=pks, status=cls.Status.QUEUED).update(
                status=cls.Status.SUBMITTING,
                claim_token=token,
                lease_expires_at=bulk.from_now(lease),
                attempts=models.F("attempts") + 1,
            )
            if moved < len(orders):
                taken = set(cls.objects.filter(pk__in=pks, claim_token=token).values_list("pk"))
                orders = [order for order in orders if (order.pk,) in taken]
            bulk.save_events([o.claim_event() for o in orders])
        for order in orders:
            order.status, order.claim_token = cls.Status.SUBMITTING, token
            order.attempts += 1
        return orders


@dataclass
class Placed:
    """A placeorder answer to record: its order, the provider's id, first status and words."""

    order: Order
    remote_id: int
    remote_status: str
    raw: str = ""
    latency: float | None = None

    @property
    def status(self):
        """Pending, or in process if the provider said so; never final: polling brings that."""
        status = Order.REMOTE_STATUSES.get(self.remote_status.strip().lower())
        return status if status in Order.AWAITING_RESULT_STATUSES else Order.Status.PENDING


@dataclass
class Polled:
    """A getimeis answer to record: its order, the provider's status, result code and words."""

    order: Order
    remote_status: str
    code: str
    raw: str = ""
    parsed: dict | None = None  # the code's fields (submissions.provider.results.parse_result)

    @property
    def status(self):
        """Where it takes the order; None for a status word we do not know."""
        return Order.REMOTE_STATUSES.get(self.remote_status.strip().lower())

    def changes(self, now):
        """The order's fields once moved to `status`."""
        fields = {"status": self.status, "result_code": self.code}
        if self.status in Order.RESULT_STATUSES:
            fields.update(finished_at=now, next_poll_at=None, **(self.parsed or {}))
            if self.status == Order.Status.REJECTED:
                fields["last_error"] = f"Rejected by the provider: {self.code or 'no reason given'}"
        return fields


class OrderEvent(models.Model):
    """One transition of an order: its timeline, with what the provider answered."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    # The order's batch, copied: the batch page reads its recent calls through one index
    # (batch, at) instead of joining every order of a 20,000-order batch.
    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=16, choices=Order.Status.choices)
    to_status = models.CharField(max_length=16, choices=Order.Status.choices)
    # The database's clock, never a host's: reconciliation compares these moments across
    # hosts to prove an order absent (submissions/driver/reconcile.py).
    at = models.DateTimeField(db_default=Now())
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    detail = models.TextField(blank=True, help_text="The provider's raw answer or the error.")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )

    class Meta:
        ordering = ["at", "id"]
        indexes = [
            models.Index(fields=["order", "at"], name="event_order_idx"),
            models.Index(fields=["batch", "at"], name="event_batch_at_idx"),
            models.Index(fields=["to_status", "at"], name="event_status_at_idx"),
        ]

    def __str__(self):
        return f"{self.from_status} -> {self.to_status} at {self.at:%Y-%m-%d %H:%M:%S}"

    def save(self, *args, **kwargs):
        if self.batch_id is None:
            self.batch_id = Order.objects.values_list("batch_id", flat=True).get(pk=self.order_id)
        super().save(*args, **kwargs)


class BatchStatusCount(models.Model):
    """How many orders of a batch are in one status, and their cost: what the pages read.

    Kept by database triggers on the orders table (orders/migrations/0003), inside the
    transaction that inserts, moves or deletes the orders, whatever the code path: a batch
    page reads ~10 rows instead of counting 20,000 orders. `recount_batch_statuses()` rebuilds
    them from the orders.
    """

    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="status_counts")
    status = models.CharField(max_length=16, choices=Order.Status.choices)
    orders = models.IntegerField(default=0)
    cost = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"))

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["batch", "status"], name="batch_status_count_unique")
        ]

    def __str__(self):
        return f"{self.batch_id} {self.status}: {self.orders}"


def latency_ms(seconds):
    return None if seconds is None else round(seconds * 1000)
