"""The batch import on the Order admin: django-import-export's ImportMixin, customised.

Upload (/admin/orders/order/import/): the form takes the service, the file (or pasted IMEIs,
stored like a file) and "check again"; the file is stored by django-import-export's temporary
storage and checked by OrderImportResource (dry run). Good file: a summary and a confirm
button. Bad rows: a count per kind of problem, the rows, a download of them, and a second,
deliberate confirm that creates the batch from the valid rows only. Confirm
(/admin/orders/order/process_import/): the stored file is read and checked again, the batch is
created, and the user lands on the batch's page.
"""

import csv
import io
import logging
import os
from urllib.parse import urlencode
from uuid import uuid4

from django.conf import settings
from django.contrib import messages
from django.contrib.admin.models import ADDITION, LogEntry
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.urls import path, reverse
from import_export.admin import ImportMixin
from import_export.signals import post_import
from import_export.tmp_storages import TempFolderStorage

from .exports import escape_formula
from .forms import BatchImportForm, ConfirmBatchImportForm
from .importing import ImportFileError, check_rows
from .kept import kept_name, kept_token
from .resources import IMEIFile, OrderImportResource, format_money

logger = logging.getLogger(__name__)

IMPORT_PERMISSION = "orders.import_order"
BAD_ROWS_SALT = "portal.import.bad-rows"
BAD_ROWS_MAX_AGE = 24 * 3600


class OnceTempFolderStorage(TempFolderStorage):
    """Keeps the upload in IMPORT_TMP_DIR from the check to the confirm, and reads it once.

    The confirm may reach another web host than the upload did, so with several hosts
    IMPORT_TMP_DIR is a directory they share. The confirm step claims the stored upload by
    renaming it before reading it. A second confirm of the same upload (double click, back
    button, two tabs) then finds no file, so one upload creates at most one batch. The rename
    is atomic, so two confirms racing each other cannot both win.
    """

    saved_here = False

    def get_full_path(self):
        return os.path.join(settings.IMPORT_TMP_DIR, self.name)

    def save(self, data):
        self.saved_here = True
        self.name = f"import-{uuid4().hex}"
        # Only the portal's own user may read the IMEIs: 0600, as a temporary file would be.
        with open(self.get_full_path(), "xb", opener=lambda p, f: os.open(p, f, 0o600)) as file:
            file.write(data)

    def read(self):
        if not self.saved_here:
            claimed = os.path.basename(self.name) + ".claimed"
            os.rename(self.get_full_path(), os.path.join(settings.IMPORT_TMP_DIR, claimed))
            self.name = claimed
        return super().read()


class OrderImportMixin(ImportMixin):
    resource_classes = [OrderImportResource]
    import_form_class = BatchImportForm
    confirm_form_class = ConfirmBatchImportForm
    import_template_name = "admin/orders/order/import.html"
    tmp_storage_class = OnceTempFolderStorage

    def has_import_permission(self, request):
        return request.user.has_perm(IMPORT_PERMISSION)

    def get_import_formats(self):
        return [IMEIFile]

    def get_import_data_kwargs(self, **kwargs):
        form = kwargs.pop("form")
        kwargs["service"] = form.cleaned_data["service"]
        kwargs["check_again"] = form.cleaned_data["check_again"]
        kwargs["skip_bad_rows"] = form.cleaned_data.get("skip_bad_rows", False)
        return kwargs

    def get_urls(self):
        view = self.admin_site.admin_view(self.bad_rows_view)
        bad_rows = path("import/bad-rows/", view, name="orders_order_import_bad_rows")
        return [bad_rows, *super().get_urls()]

    def get_import_form_initial(self, request):
        """What "Change" on the confirm page brings back: the service and "check again"."""
        wanted = {"service": request.GET.get("service"), "check_again": request.GET.get("again")}
        return {name: value for name, value in wanted.items() if value}

    def import_action(self, request, **kwargs):
        """The upload step; for a file with bad rows, also the valid-rows-only confirm."""
        response = super().import_action(request, **kwargs)
        context = getattr(response, "context_data", None) or {}
        context["title"] = "Import a batch"
        result, form = context.get("result"), context.get("form")
        stored = stored_upload(form)
        if stored is not None:
            token = kept_token(*stored)
            context.update(kept_file=token, kept_name=stored[1])
            if context.get("confirm_form") is not None:
                context["change_url"] = change_url(self.import_url(), token, form)
        elif request.method == "GET" and kept_name(request.GET.get("kept", "")):
            context.update(kept_file=request.GET["kept"], kept_name=kept_name(request.GET["kept"]))
        if stored is not None and result is not None and result.checked.problem_count:
            context["bad_rows_url"] = bad_rows_url(stored[0])
        if result is not None and getattr(result, "valid_rows_only", False):
            valid_rows_form = self.create_confirm_form(request, import_form=form)
            valid_rows_form.initial["skip_bad_rows"] = True
            context["valid_rows_form"] = valid_rows_form
        return response

    def bad_rows_view(self, request):
        """The bad rows of a stored upload as CSV: row, value, problem (to fix and re-send)."""
        if not self.has_import_permission(request):
            raise PermissionDenied
        try:
            name = signing.loads(
                request.GET.get("file", ""), salt=BAD_ROWS_SALT, max_age=BAD_ROWS_MAX_AGE
            )
            data = TempFolderStorage(name=name, read_mode="rb").read()
        except (signing.BadSignature, FileNotFoundError) as exc:
            raise Http404("This upload was confirmed or has expired.") from exc
        dataset = IMEIFile().create_dataset(data)
        unit = dataset.headers[0]
        checked = check_rows(zip(dataset[unit], dataset["IMEI"], strict=True))
        response = HttpResponse(bad_rows_csv(checked.bad_rows, unit), content_type="text/csv")
        response["Content-Disposition"] = 'attachment; filename="bad-rows.csv"'
        return response

    def get_confirm_form_initial(self, request, import_form):
        initial = super().get_confirm_form_initial(request, import_form)
        if import_form is not None:
            initial["service"] = import_form.cleaned_data["service"].pk
            initial["check_again"] = import_form.cleaned_data["check_again"]
            initial["skip_bad_rows"] = False
        return initial

    def add_data_read_fail_error_to_form(self, form, e):
        if isinstance(e, ImportFileError):
            # Said beside what the user gave: the file, or the pasted IMEIs.
            field = "imei_text" if form.cleaned_data.get("imei_text") else "import_file"
            form.add_error(field, str(e))
        else:
            logger.exception("Import file could not be read", exc_info=e)
            form.add_error("import_file", "The file could not be read as CSV or XLSX.")

    def process_import(self, request, **kwargs):
        try:
            return super().process_import(request, **kwargs)
        except FileNotFoundError:
            # Claimed by an earlier confirm (see OnceTempFolderStorage) or cleaned away.
            messages.error(
                request,
                "This upload was already confirmed or has expired; nothing more was created. "
                "Check the batches, or upload the file again.",
            )
            return HttpResponseRedirect(self.import_url())

    def process_result(self, result, request):
        batch = result.batch
        if batch is None:
            messages.error(request, " ".join(result.problems) or "Nothing was created.")
            return HttpResponseRedirect(self.import_url())
        self.log_batch(batch, request)
        plan = result.plan
        left_out = result.checked.problem_count
        left_out_text = f"; {left_out:,} bad rows left out, named in its note" if left_out else ""
        messages.success(
            request,
            f"Batch {batch.pk} created: {len(plan.imeis):,} orders queued "
            f"(cost {format_money(plan.cost)}){left_out_text}",
        )
        post_import.send(sender=None, model=self.model)
        return HttpResponseRedirect(reverse("admin:orders_batch_change", args=[batch.pk]))

    def log_batch(self, batch, request):
        """One admin log entry for the batch, not 20,000 for its orders.

        It also keeps the left-out rows (the batch note says them too, but pausing the batch
        replaces its note): the batch's History shows them for good.
        """
        if not self.get_skip_admin_log():
            message = f"Imported from {batch.source_name}. {batch.note}".strip()
            LogEntry.objects.log_actions(
                request.user.pk,
                [batch],
                ADDITION,
                change_message=message,
                single_object=True,
            )

    def import_url(self):
        return reverse("admin:orders_order_import", current_app=self.admin_site.name)


def stored_upload(form):
    """(stored name, the file's own name) of the upload this form checked, or None."""
    checked = form is not None and form.is_bound and not form.errors
    upload = form.cleaned_data.get("import_file") if checked else None
    stored = getattr(upload, "tmp_storage_name", None)
    return None if stored is None else (stored, upload.name)


def change_url(import_url, token, form):
    """The upload form again, with this file kept and this service chosen."""
    query = {"kept": token, "service": form.cleaned_data["service"].pk}
    if form.cleaned_data["check_again"]:
        query["again"] = "1"
    return f"{import_url}?{urlencode(query)}"


def bad_rows_url(stored_name):
    """A download link for the bad rows of a stored upload, signed so no other file is read."""
    token = signing.dumps(os.path.basename(stored_name), salt=BAD_ROWS_SALT)
    return reverse("admin:orders_order_import_bad_rows") + "?file=" + token


def bad_rows_csv(bad_rows, unit="row"):
    buffer = io.StringIO()
    buffer.write("\ufeff")  # Excel reads UTF-8 with a BOM
    writer = csv.writer(buffer)
    writer.writerow([unit.upper(), "VALUE", "PROBLEM"])
    for row in bad_rows:
        writer.writerow([row.number, text_for_excel(row.value), row.problem])
    return buffer.getvalue()


def text_for_excel(value):
    """A cell Excel keeps as typed: digits as `="353..."` (else 3.53E+14, digits lost),
    anything else escaped against formulas."""
    text = str(value).strip()
    return f'="{text}"' if text.isdigit() else escape_formula(value)
