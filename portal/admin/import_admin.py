"""The batch import on the Order admin: django-import-export's ImportMixin, customised.

Upload (/admin/orders/order/import/): the form takes the service, the file and "check
again"; the file is stored by django-import-export's temporary storage and checked by
OrderImportResource (dry run). Good file: a summary and a confirm button. Bad rows: all their
messages, nothing created. Confirm (/admin/orders/order/process_import/): the stored file is
read and checked again, the batch is created, and the user lands on the batch's page.
"""

import logging
import os
from uuid import uuid4

from django.conf import settings
from django.contrib import messages
from django.contrib.admin.models import ADDITION, LogEntry
from django.http import HttpResponseRedirect
from django.urls import reverse
from import_export.admin import ImportMixin
from import_export.signals import post_import
from import_export.tmp_storages import TempFolderStorage

from .forms import BatchImportForm, ConfirmBatchImportForm
from .importing import ImportFileError
from .resources import IMEIFile, OrderImportResource, format_money

logger = logging.getLogger(__name__)

IMPORT_PERMISSION = "orders.import_order"


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
        return kwargs

    def get_confirm_form_initial(self, request, import_form):
        initial = super().get_confirm_form_initial(request, import_form)
        if import_form is not None:
            initial["service"] = import_form.cleaned_data["service"].pk
            initial["check_again"] = import_form.cleaned_data["check_again"]
        return initial

    def add_data_read_fail_error_to_form(self, form, e):
        if isinstance(e, ImportFileError):
            form.add_error("import_file", str(e))
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
        messages.success(
            request,
            f"Batch {batch.pk} created: {len(plan.imeis):,} orders queued "
            f"(cost {format_money(plan.cost)})",
        )
        post_import.send(sender=None, model=self.model)
        return HttpResponseRedirect(reverse("admin:orders_batch_change", args=[batch.pk]))

    def log_batch(self, batch, request):
        """One admin log entry for the batch, not 20,000 for its orders."""
        if not self.get_skip_admin_log():
            LogEntry.objects.log_actions(
                request.user.pk,
                [batch],
                ADDITION,
                change_message=f"Imported from {batch.source_name}",
                single_object=True,
            )

    def import_url(self):
        return reverse("admin:orders_order_import", current_app=self.admin_site.name)
