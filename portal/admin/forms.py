"""The forms of the batch import: django-import-export's two steps, plus service and re-check."""

from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat
from import_export.forms import ConfirmImportForm, ImportForm

from orders.models import Batch, Service

CHECK_AGAIN_HELP = (
    "Also send IMEIs that already have an order for this service (one not cancelled or "
    "failed). Each is charged again."
)
FILE_HELP = (
    "CSV or Excel (.xlsx, first sheet): a column titled IMEI (the vendor export's IMEI NO. "
    "works too) or one column of IMEIs without a header. Other columns are ignored."
)


def active_services():
    return Service.objects.filter(active=True).order_by("title")


class BatchImportForm(ImportForm):
    """Upload step. The file's format is found from its content, so `format` is fixed."""

    service = forms.ModelChoiceField(queryset=active_services())  # labelled by Service.__str__
    check_again = forms.BooleanField(
        label="Check again", required=False, help_text=CHECK_AGAIN_HELP
    )
    field_order = ["service", "import_file", "check_again"]

    def __init__(self, formats, resources, **kwargs):
        super().__init__(formats, resources, **kwargs)
        self.fields["format"].required = False
        self.fields["format"].widget = forms.HiddenInput()
        self.fields["import_file"].help_text = FILE_HELP
        # Most uploads are for the service of the last batch: offer it first.
        last = Batch.objects.filter(service__active=True).order_by("-created_at").first()
        if last is not None:
            self.fields["service"].initial = last.service_id

    def clean_format(self):
        return "0"  # the only format: orders.resources.IMEIFile

    def clean_import_file(self):
        upload = self.cleaned_data["import_file"]
        limit = settings.IMPORT_MAX_BYTES
        if upload.size > limit:
            raise forms.ValidationError(
                f"The file is {file_size(upload.size)}; the limit is {file_size(limit)}. "
                "Split it into smaller files."
            )
        return upload


class ConfirmBatchImportForm(ConfirmImportForm):
    """Confirm step: the upload step's choices travel as hidden fields."""

    service = forms.ModelChoiceField(queryset=active_services(), widget=forms.HiddenInput)
    check_again = forms.BooleanField(required=False, widget=forms.HiddenInput)


def file_size(size):
    # filesizeformat joins with a no-break space; a plain one reads the same everywhere.
    return filesizeformat(size).replace("\xa0", " ")
