"""Orders as the vendor's "Advanced Export" CSV (or XLSX), the sheet staff grade phones from.

Plain `csv` streamed through StreamingHttpResponse, not django-import-export's export: that
builds the whole tablib Dataset (and the file) in memory before answering, offers a format and
field picker staff do not need, and its formula escaping only drops a leading `=`. Here 20,000
rows stream in chunks with constant memory, in the vendor's exact column order.

UTF-8 with a BOM: without it Excel on Windows reads the file as ANSI and mangles the emoji of
service titles; with it Excel, LibreOffice and Python's `utf-8-sig` all read it right.

XLSX has the same columns: CREDITS a number (shown as dollars) and ORDER DATE a date, so that
they sum and sort; every other cell a string (so an IMEI never turns into 3.52E+14 and no cell
is ever a formula; `=`, `+`, `-`, `@` stay as typed, as text, not escaped with a quote as in
the CSV). The header row is frozen and the columns have widths. openpyxl's write-only mode
writes the rows to a temporary file as they are read, then the workbook into a spooled
temporary file (in memory up to 1 MB, on disk beyond), which FileResponse streams back: memory
stays flat for any number of orders.

Any order list can be exported as it is filtered: `/admin/orders/order/export.csv?<the
list's query>` (and `.xlsx`) build the changelist's own queryset from the same parameters.
"""

import csv
import io
import re
import tempfile

from django.contrib import admin
from django.contrib.admin.options import IS_POPUP_VAR, IncorrectLookupParameters
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpResponseRedirect, StreamingHttpResponse
from django.urls import path, reverse
from django.utils import timezone
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES

from orders.models import Order
from submissions.provider.results import advanced_export_code

EXPORT_PERMISSION = "orders.export_order"
HEADER = [
    "SERVICE",
    "IMEI NO.",
    "CREDITS",
    "STATUS",
    "CODE",
    "IMEI 2",
    "CARRIER",
    "SIMLOCK",
    "MODEL",
    "FMI",
    "ORDER DATE",
    "NOTES",
]
# The provider's words for its own statuses; ours (queued, failed, ...) keep their labels.
VENDOR_STATUS = {
    Order.Status.PENDING: "Pending",
    Order.Status.IN_PROCESS: "In Process",
    Order.Status.COMPLETED: "Completed",
    Order.Status.REJECTED: "Rejected",
}
# A spreadsheet runs a cell starting with these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CHUNK_CHARS = 64 * 1024
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
XLSX_IN_MEMORY_BYTES = 1024 * 1024
XLSX_SHEET = "Advanced Export"
# XML 1.0 has no place for these control characters: they are dropped from cell text.
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
FORMATS = ("csv", "xlsx")
CREDITS, ORDER_DATE = HEADER.index("CREDITS"), HEADER.index("ORDER DATE")
MONEY_FORMAT = '"$"#,##0.00'
DATE_FORMAT = "yyyy-mm-dd h:mm:ss"
# Characters wide, in HEADER's order: the service title and the code are the long ones.
XLSX_WIDTHS = [48, 17, 10, 12, 60, 17, 24, 14, 34, 8, 19, 40]


def escape_formula(value):
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def order_date(moment):
    """`2025-11-14 3:33:00`: the vendor writes the hour without a leading zero."""
    if moment is None:
        return ""
    local = timezone.localtime(moment)
    return f"{local:%Y-%m-%d} {local.hour}:{local:%M:%S}"


def order_row(order):
    return [escape_formula(cell) for cell in order_cells(order)]


def order_cells(order):
    return [
        order.service.title,
        order.imei,
        f"${order.cost:.2f}",
        VENDOR_STATUS.get(order.status, order.get_status_display()),
        advanced_export_code(order.result_code),
        order.imei2,
        order.carrier,
        order.simlock,
        order.model_name,
        order.fmi,
        order_date(order.submitted_at),
        order.last_error,
    ]


def csv_chunks(orders):
    """The CSV text in chunks of about 64 KB, reading the orders 2,000 at a time."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer)
    writer.writerow(HEADER)
    for order in orders.select_related("service").iterator(chunk_size=2000):
        writer.writerow(order_row(order))
        if buffer.tell() >= CHUNK_CHARS:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def text_cells(sheet, values):
    """A row of text cells. openpyxl keeps a string as text unless it starts with `=` (then a
    formula) or is an error code like `#N/A`: those get a cell forced to text."""
    cells = []
    for value in values:
        text = NOT_XML.sub("", str(value))
        if text.startswith("=") or text in ERROR_CODES:
            cell = WriteOnlyCell(sheet, text)
            cell.data_type = "s"
            cells.append(cell)
        else:
            cells.append(text or None)  # None: no cell at all for an empty one
    return cells


def xlsx_row(sheet, order):
    """The order's cells: text, but CREDITS a number and ORDER DATE a date (local time)."""
    cells = text_cells(sheet, order_cells(order))
    cells[CREDITS] = WriteOnlyCell(sheet, float(order.cost))
    cells[CREDITS].number_format = MONEY_FORMAT
    if order.submitted_at is not None:
        local = timezone.localtime(order.submitted_at).replace(tzinfo=None, microsecond=0)
        cells[ORDER_DATE] = WriteOnlyCell(sheet, local)
        cells[ORDER_DATE].number_format = DATE_FORMAT
    return cells


def xlsx_file(orders):
    """The workbook in a temporary file, rewound, reading the orders 2,000 at a time."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(XLSX_SHEET)
    sheet.freeze_panes = "A2"
    for column, width in zip("ABCDEFGHIJKL", XLSX_WIDTHS, strict=True):
        sheet.column_dimensions[column].width = width
    sheet.append(text_cells(sheet, HEADER))
    for order in orders.select_related("service").iterator(chunk_size=2000):
        sheet.append(xlsx_row(sheet, order))
    file = tempfile.SpooledTemporaryFile(max_size=XLSX_IN_MEMORY_BYTES)
    book.save(file)
    file.seek(0)
    return file


def advanced_export_response(orders, file_name, file_format="csv"):
    if file_format == "xlsx":
        response = FileResponse(xlsx_file(orders), content_type=XLSX_TYPE)
        response.block_size = CHUNK_CHARS
        file_name = file_name.removesuffix(".csv") + ".xlsx"
    else:
        chunks = csv_chunks(orders)
        response = StreamingHttpResponse(chunks, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{file_name}"'
    return response


def export_stamp():
    return timezone.localtime().strftime("%Y%m%d-%H%M")


@admin.action(description="Export selected (Advanced Export CSV)")
def export_selected_orders(modeladmin, request, queryset):
    if not request.user.has_perm(EXPORT_PERMISSION):
        raise PermissionDenied
    return advanced_export_response(queryset, f"orders-advanced-export-{export_stamp()}.csv")


@admin.action(description="Export selected (Advanced Export XLSX)")
def export_selected_orders_xlsx(modeladmin, request, queryset):
    if not request.user.has_perm(EXPORT_PERMISSION):
        raise PermissionDenied
    name = f"orders-advanced-export-{export_stamp()}.csv"
    return advanced_export_response(queryset, name, "xlsx")


class OrderExportMixin:
    """Adds the export action for users with `orders.export_order`, and the export of the
    list as filtered (`export.csv` / `export.xlsx`, linked above the list).

    Through get_actions rather than `actions`, so OrderAdmin keeps its own `actions` list.
    """

    def get_urls(self):
        view = self.admin_site.admin_view(self.filtered_export_view)
        export = path("export.<str:file_format>", view, name="orders_order_export")
        return [export, *super().get_urls()]

    def filtered_export_view(self, request, file_format):
        """The orders of the list exactly as its query string filters, searches and sorts."""
        if not request.user.has_perm(EXPORT_PERMISSION) or not self.has_view_permission(request):
            raise PermissionDenied
        if file_format not in FORMATS:
            raise Http404("Export as csv or xlsx.")
        try:
            orders = self.get_changelist_instance(request).queryset
        except IncorrectLookupParameters:
            return HttpResponseRedirect(reverse("admin:orders_order_changelist") + "?e=1")
        name = f"orders-advanced-export-{export_stamp()}.csv"
        return advanced_export_response(orders, name, file_format)

    def changelist_view(self, request, extra_context=None):
        can_export = request.user.has_perm(EXPORT_PERMISSION)
        extra_context = {"can_export": can_export, **(extra_context or {})}
        return super().changelist_view(request, extra_context)

    def get_actions(self, request):
        actions = super().get_actions(request)
        if self.actions is None or IS_POPUP_VAR in request.GET:
            return actions
        if request.user.has_perm(EXPORT_PERMISSION):
            for action in (export_selected_orders, export_selected_orders_xlsx):
                actions[action.__name__] = (action, action.__name__, action.short_description)
        return actions


class BatchExportMixin:
    """/admin/orders/batch/<id>/export/ (the batch page links to it: orders/views.py)."""

    def get_urls(self):
        view = self.admin_site.admin_view(self.advanced_export_view)
        export = path("<path:object_id>/export/", view, name="orders_batch_export")
        return [export, *super().get_urls()]

    def advanced_export_view(self, request, object_id):
        if not request.user.has_perm(EXPORT_PERMISSION):
            raise PermissionDenied
        batch = self.get_object(request, unquote(object_id))
        if batch is None:
            raise Http404("No such batch.")
        file_format = request.GET.get("format", "csv")
        if file_format not in FORMATS:
            raise Http404("Export as csv or xlsx.")
        orders = batch.orders.order_by("id")
        name = f"batch-{batch.pk}-advanced-export.csv"
        return advanced_export_response(orders, name, file_format)
