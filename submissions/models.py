"""The dispatcher: one row that every worker locks to claim orders.

Claiming under this lock is what makes the in-flight cap global across workers and hosts: a
driver counts the orders in `submitting` and claims at most the free slots, all in one
transaction. The row also carries the driver's lease and the limits' shared state (the limit
lowered after 429s, the send-rate bucket): every driver reads them, so they survive handovers.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone


class OneRow:
    """For a table of exactly one row (id ROW_ID): the dispatcher, the controls, the breaker."""

    ROW_ID = 1

    @classmethod
    def get(cls):
        return cls.objects.get_or_create(pk=cls.ROW_ID)[0]

    @classmethod
    def row(cls):
        """The row as a queryset, for conditional UPDATEs and locks."""
        return cls.objects.filter(pk=cls.ROW_ID)


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


class StatementRun(models.Model):
    """One reading of a day's orders back from the provider (submissions/statement.py).

    Only the lines that are not a plain match are kept (StatementLine); matched orders are
    counted here, and the export lists them from the orders themselves.
    """

    class Outcome(models.TextChoices):
        MATCHED = "matched", "Books agree"
        MISMATCH = "mismatch", "Books differ"
        INCOMPLETE = "incomplete", "Not all read"

    day = models.DateField(db_index=True)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, blank=True)
    matched = models.PositiveIntegerField(default=0)
    provider_only = models.PositiveIntegerField(default=0)
    portal_only = models.PositiveIntegerField(default=0)
    mismatched = models.PositiveIntegerField(default=0)
    unread = models.PositiveIntegerField(default=0, help_text="Ids whose getimeis call failed.")
    ids_read = models.PositiveIntegerField(default=0)
    calls = models.PositiveIntegerField(default=0)
    provider_charged = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    provider_refunds = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    portal_recorded = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    portal_refunds = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    difference = models.DecimalField(
        max_digits=14, decimal_places=2, default=0, help_text="Provider charged - portal recorded."
    )
    note = models.TextField(blank=True, help_text="What could not be read, and why.")
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )

    class Meta:
        ordering = ["-day", "-started_at"]
        verbose_name = "daily statement"

    def __str__(self):
        return f"Statement {self.day:%Y-%m-%d}"


class StatementLine(models.Model):
    """One order on which the provider's books and ours do not simply agree."""

    class Kind(models.TextChoices):
        PROVIDER_ONLY = "provider_only", "Provider only (charged, no record here)"
        PORTAL_ONLY = "portal_only", "Portal only (unknown to the provider)"
        AMOUNT = "amount", "Amount differs"
        STATUS = "status", "Status differs"

    run = models.ForeignKey(StatementRun, on_delete=models.CASCADE, related_name="lines")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    order_id = models.BigIntegerField("portal order", null=True, blank=True)
    remote_id = models.BigIntegerField("provider order id", null=True, blank=True)
    imei = models.CharField("IMEI", max_length=15, blank=True)
    service = models.CharField(max_length=500, blank=True)
    provider_status = models.CharField(max_length=40, blank=True)
    portal_status = models.CharField(max_length=16, blank=True)
    provider_amount = models.DecimalField(max_digits=10, decimal_places=2, default=0)
    portal_amount = models.DecimalField(max_digits=10, decimal_places=2, default=0)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["kind", "remote_id", "id"]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.remote_id or self.order_id}"


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


# -- spend ---------------------------------------------------------------------------


class SpendEntry(models.Model):
    """One line of the spend ledger: append-only, written by a database trigger.

    The trigger on orders_order (migration 0011) writes a line whenever an order's status
    change moves money: `reserve` at the claim (+ the service's price), `charge` when the
    provider created it (the difference to its reservation), `release` when the call proved
    nothing was created, `refund` when it was rejected and the price list says rejected orders
    are not charged (minus what it held). `delta` is the change of committed spend (reserved
    plus charged); an order's lines sum to what it holds now.
    """

    class Kind(models.TextChoices):
        RESERVE = "reserve", "Reserved"
        CHARGE = "charge", "Charged"
        RELEASE = "release", "Released"
        REFUND = "refund", "Refunded"

    order = models.ForeignKey("orders.Order", on_delete=models.DO_NOTHING, db_constraint=False)
    service = models.ForeignKey("orders.Service", on_delete=models.DO_NOTHING, db_constraint=False)
    batch = models.ForeignKey("orders.Batch", on_delete=models.DO_NOTHING, db_constraint=False)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    amount = models.DecimalField(max_digits=10, decimal_places=2)
    delta = models.DecimalField(max_digits=10, decimal_places=2)
    at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "spend entries"
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["order"], name="spend_order_idx"),
            models.Index(fields=["at"], name="spend_at_idx"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} ${self.amount} (order {self.order_id})"


class SpendPending(models.Model):
    """A ledger line's `delta` not yet added to SpendDay: a small queue, emptied by claims.

    Only a claim (under the dispatcher lock) empties it, so the totals are exact without any
    lock on a counter row: lines of transactions not yet committed are invisible to it and
    stay for the next claim (submissions/spend.py).
    """

    service_id = models.PositiveIntegerField()
    delta = models.DecimalField(max_digits=10, decimal_places=2)
    at = models.DateTimeField()

    def __str__(self):
        return f"{self.delta} (service {self.service_id})"


class SpendDay(models.Model):
    """Committed spend (reserved plus charged, less released and refunded) per day and service."""

    day = models.DateField()
    service_id = models.PositiveIntegerField()
    committed = models.DecimalField(max_digits=14, decimal_places=2, default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["day", "service_id"], name="spend_day_unique")
        ]

    def __str__(self):
        return f"{self.day} service {self.service_id}: ${self.committed}"


class PriceRise(models.Model):
    """A service's price went up at a catalogue sync: its batches hold until acknowledged."""

    service = models.ForeignKey("orders.Service", on_delete=models.CASCADE)
    old_price = models.DecimalField(max_digits=10, decimal_places=2)
    new_price = models.DecimalField(max_digits=10, decimal_places=2)
    detected_at = models.DateTimeField(default=timezone.now)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-detected_at"]
        permissions = [("acknowledge_pricerise", "Can acknowledge a service's new price")]

    def __str__(self):
        return f"{self.service_id}: ${self.old_price} -> ${self.new_price}"


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


class MailSetting(models.Model):
    """A user's own settings for the mails the portal sends them."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="mail_setting"
    )
    batch_results = models.BooleanField(
        "e-mail me my batches' results",
        default=False,
        help_text="When a batch you imported finishes: its counts, its spend and the results "
        "file (a link instead when the file is large).",
    )

    def __str__(self):
        return f"Mail settings of {self.user}"

    @classmethod
    def wants_results(cls, user):
        return cls.objects.filter(user=user, batch_results=True).exists()
