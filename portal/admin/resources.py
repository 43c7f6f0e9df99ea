"""The django-import-export pieces of the batch import: its file format, resource and result.

Decision: keep django-import-export's admin views, forms, temporary storage and its
upload -> confirm flow, but not its per-row machinery. Its row loop (an instance, a diff and
several queries per row) takes minutes for 20,000 rows and can only report errors row by row.
`OrderImportResource.import_data` instead checks all rows at once (orders/importing.py), looks
up the IMEIs already ordered in a few chunked queries, and on the confirm step creates one
Batch and its orders with bulk_create. It returns a `BatchImportResult` that carries the plan
(counts for the summary) instead of 20,000 row results.
"""

from dataclasses import dataclass
from decimal import Decimal

import tablib
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from import_export import fields, resources
from import_export.formats.base_formats import Format
from import_export.results import Result, RowResult

from orders.models import Batch, Order, Service
from submissions import services as submission_services

from .importing import PASTE_MAGIC, check_rows, read_imei_file
from .search import found_imeis

BULK_BATCH_SIZE = 1000
ALREADY_SHOWN = 5
# The left-out rows named in a batch note; the rest are counted.
NOTED_ROWS = 50


class IMEIFile(Format):
    """CSV or XLSX, told apart by the file's content: the upload form offers no format choice."""

    def __init__(self, encoding=None):
        # Always read as bytes (is_binary): orders.importing decodes, sniffing the encoding.
        self.encoding = encoding

    def get_title(self):
        return "CSV or XLSX"

    def can_import(self):
        return True

    def create_dataset(self, in_stream):
        cells = read_imei_file(in_stream, max_rows=settings.IMPORT_MAX_ROWS)
        # A file's values are on rows, a paste's on lines: the messages say which.
        unit = "line" if in_stream.startswith(PASTE_MAGIC) else "row"
        return tablib.Dataset(*cells, headers=[unit, "IMEI"])


@dataclass
class BatchPlan:
    """What confirming the upload creates; the confirm page shows it."""

    service: Service
    file_name: str
    imeis: list  # the orders to create
    duplicates: int  # repeated rows of the file, dropped
    already: list  # IMEIs already ordered for this service
    check_again: bool

    @property
    def already_skipped(self):
        return 0 if self.check_again else len(self.already)

    @property
    def already_shown(self):
        return self.already[:ALREADY_SHOWN]

    @property
    def already_more(self):
        return len(self.already) - len(self.already_shown)

    @property
    def cost(self):
        return len(self.imeis) * self.service.price


class BatchImportResult(Result):
    """A Result with the plan and the row messages instead of one RowResult per row."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.problems = []
        self.more_problems = 0
        self.plan = None
        self.checked = None  # orders.importing.CheckedRows
        self.batch = None

    @property
    def valid_rows_only(self):
        """Some rows are bad, the rest would make a batch: offer to create it from them."""
        return bool(self.checked and self.checked.problem_count and self.plan.imeis)

    def has_validation_errors(self):
        return bool(self.problems) or super().has_validation_errors()


class OrderImportResource(resources.ModelResource):
    """Creates one batch of queued orders from a file of IMEIs (see the module docstring)."""

    imei = fields.Field(attribute="imei", column_name="IMEI")

    class Meta:
        model = Order
        fields = ("imei",)
        name = "IMEIs for one batch"
        use_bulk = True
        batch_size = BULK_BATCH_SIZE
        skip_diff = True

    @classmethod
    def get_result_class(cls):
        return BatchImportResult

    def import_data(self, dataset, dry_run=False, raise_errors=False, **kwargs):
        """Check the file; unless `dry_run`, create the batch.

        Needs the keyword arguments `service`, `check_again`, `file_name` and `user`, which
        the admin passes from its forms (OrderImportMixin.get_import_data_kwargs). A file
        with bad rows creates nothing, unless `skip_bad_rows` (the user's deliberate second
        step): then the batch holds the valid rows and its note names the rows left out.
        """
        result = self.get_result_class()()
        result.total_rows = len(dataset)
        unit = dataset.headers[0]
        checked = check_rows(zip(dataset[unit], dataset["IMEI"], strict=True), unit.capitalize())
        plan = make_plan(checked, kwargs["service"], kwargs["check_again"], kwargs["file_name"])
        result.checked, result.plan = checked, plan
        result.totals[RowResult.IMPORT_TYPE_NEW] = len(plan.imeis)
        result.totals[RowResult.IMPORT_TYPE_SKIP] = plan.duplicates + plan.already_skipped
        if checked.problem_count:
            result.problems, result.more_problems = checked.problems, checked.more_problems
            if dry_run or not kwargs.get("skip_bad_rows"):
                return result
        if not plan.imeis:
            result.problems = [nothing_to_order_message(plan)]
        elif not dry_run:
            note = left_out_note(checked.bad_rows, unit)
            result.batch = create_batch(plan, kwargs["user"], note=note)
        return result


def make_plan(checked, service, check_again, file_name):
    already = already_ordered(checked.imeis, service)
    imeis = checked.imeis
    if not check_again:
        skipped = set(already)
        imeis = [imei for imei in imeis if imei not in skipped]
    return BatchPlan(
        service=service,
        file_name=file_name or "",
        imeis=imeis,
        duplicates=checked.duplicates,
        already=already,
        check_again=check_again,
    )


def already_ordered(imeis, service):
    """The IMEIs of `imeis` with a live order for `service`, in file order."""
    live = Order.objects.filter(service=service).exclude(status__in=Order.NOT_PLACED_STATUSES)
    found = found_imeis(live, imeis)
    return [imei for imei in imeis if imei in found]


def nothing_to_order_message(plan):
    if not plan.already:
        return "Nothing to order: no row holds a valid IMEI."
    return (
        f"Nothing to order: all {len(plan.already):,} IMEIs of the file were already ordered "
        f"for {plan.service.title}. Tick “Check again” to send them again."
    )


def left_out_note(bad_rows, unit="row"):
    """The batch note naming the bad rows a batch was created without ("" when none)."""
    if not bad_rows:
        return ""
    named = ", ".join(f'{unit} {r.number} "{r.value[:40]}"' for r in bad_rows[:NOTED_ROWS])
    more = len(bad_rows) - NOTED_ROWS
    more_text = f" and {more:,} more" if more > 0 else ""
    noun = f"{unit}s" if len(bad_rows) > 1 else unit
    left_out = f"Left out {len(bad_rows):,} bad {noun}: {named}{more_text}."
    return f"Created from the valid {unit}s only. {left_out}"


def create_batch(plan, user, note="", priority=Batch.Priority.NORMAL):
    """The batch and all its orders, in one transaction; processing starts on commit."""
    now = timezone.now()
    with transaction.atomic():
        batch = Batch.objects.create(
            service=plan.service,
            created_by=user,
            source_name=plan.file_name[:255],
            state=Batch.State.QUEUED,
            created_at=now,
            note=note,
            priority=priority,
        )
        Order.objects.insert_queued(batch, plan.imeis, now)
        submission_services.batch_created(batch, user, len(plan.imeis) * plan.service.price)
    return batch


def format_money(amount):
    return f"${Decimal(amount):,.2f}"
