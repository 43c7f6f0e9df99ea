"""The forms of the batch import: django-import-export's two steps, plus service and re-check."""

from datetime import timedelta

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import Max
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from import_export.forms import ConfirmImportForm, ImportForm

from orders.imei import pasted_values
from orders.models import Batch, Service

from .display import money
from .importing import pasted_file
from .kept import KeptFileGone, take_kept

CHECK_AGAIN_HELP = (
    "Also send IMEIs that already have an order for this service (one not cancelled or "
    "failed). Each is charged again."
)
FILE_HELP = (
    "CSV or Excel (.xlsx, first sheet): a column titled IMEI (the vendor export's IMEI NO. "
    "works too) or one column of IMEIs without a header. Other columns are ignored."
)
PASTE_HELP = (
    "Instead of a file: IMEIs separated by new lines, spaces, commas or tabs (a column copied "
    "from Excel works). Spaces and dashes inside one IMEI are fine."
)
RECENT_DAYS = 30


def service_choices():
    """The active services, those used in the last 30 days first (most recent first)."""
    since = timezone.now() - timedelta(days=RECENT_DAYS)
    recent_ids = list(
        Batch.objects.filter(created_at__gte=since, service__active=True)
        .values("service_id")
        .annotate(last=Max("created_at"))
        .order_by("-last")
        .values_list("service_id", flat=True)
    )
    services = {s.pk: s for s in active_services()}
    recent = [services[pk] for pk in recent_ids if pk in services]
    others = [s for s in services.values() if s.pk not in set(recent_ids)]
    choices = [("", "---------")]
    if recent:
        choices.append(("Used in the last 30 days", [(s.pk, service_label(s)) for s in recent]))
    group = "All services" if recent else "Services"
    choices.append((group, [(s.pk, service_label(s)) for s in others]))
    return choices


def service_label(service):
    """'$0.08 · Instant-5 Minutes · Apple iPhone ...': price and time first, never cut off."""
    return f"{money(service.price)} · {service.delivery_time or 'time unknown'} · {service.title}"


def active_services():
    return Service.objects.filter(active=True).order_by("title")


class BatchImportForm(ImportForm):
    """Upload step. The file's format is found from its content, so `format` is fixed."""

    service = forms.ModelChoiceField(queryset=active_services())  # labelled by Service.__str__
    imei_text = forms.CharField(
        label="or paste IMEIs",
        required=False,
        strip=True,
        help_text=PASTE_HELP,
        widget=forms.Textarea(attrs={"rows": 6, "cols": 40, "class": "imei-text"}),
    )
    check_again = forms.BooleanField(
        label="Check again", required=False, help_text=CHECK_AGAIN_HELP
    )
    field_order = ["service", "import_file", "imei_text", "check_again"]

    def __init__(self, formats, resources, **kwargs):
        super().__init__(formats, resources, **kwargs)
        self.fields["format"].required = False
        self.fields["format"].widget = forms.HiddenInput()
        self.fields["import_file"].help_text = FILE_HELP
        self.fields["import_file"].required = False
        self.fields["service"].choices = service_choices()
        # portal/static/portal/service_search.js adds a filter box above the list.
        # No service is chosen for the operator (an unlock costs up to $110 an IMEI): only
        # what they chose in this form, kept by "Change" on the confirm page.
        self.fields["service"].widget.attrs.update({"class": "service-select", "size": 8})

    def clean_format(self):
        return "0"  # the only format: orders.resources.IMEIFile

    def clean_import_file(self):
        upload = self.cleaned_data["import_file"]
        limit = settings.IMPORT_MAX_BYTES
        if upload and upload.size > limit:
            raise forms.ValidationError(
                f"The file is {file_size(upload.size)}; the limit is {file_size(limit)}. "
                "Split it into smaller files."
            )
        return upload

    def clean(self):
        """A file, pasted IMEIs or the file kept from the last check (`kept_file`, see
        portal/admin/kept.py); pasted ones become an upload named for staff to spot."""
        cleaned = super().clean()
        upload, text = cleaned.get("import_file"), cleaned.get("imei_text")
        kept = self.data.get("kept_file", "") if not (upload or text) else ""
        if "import_file" in self.errors:
            return cleaned
        if upload and text:
            raise forms.ValidationError("Choose a file or paste IMEIs, not both.")
        if kept:
            cleaned["import_file"] = self.kept_upload(kept)
        elif not upload and not text:
            raise forms.ValidationError("Choose a file or paste IMEIs.")
        if text:
            cleaned["import_file"] = self.pasted_upload(text)
        return cleaned

    def kept_upload(self, token):
        try:
            return take_kept(token)
        except KeptFileGone:
            raise forms.ValidationError(
                "The file checked before is no longer kept (it was used or has expired). "
                "Choose it again."
            ) from None

    def pasted_upload(self, text):
        data = pasted_file(text)
        if len(data) > settings.IMPORT_MAX_BYTES:
            raise forms.ValidationError(
                f"The pasted text is {file_size(len(data))}; the limit is "
                f"{file_size(settings.IMPORT_MAX_BYTES)}. Paste fewer IMEIs."
            )
        count = sum(1 for _ in pasted_values(text))
        noun = "IMEI" if count == 1 else "IMEIs"
        name = f"pasted {timezone.localtime():%H:%M}, {count:,} {noun}"
        return SimpleUploadedFile(name, data, content_type="text/plain")


class ConfirmBatchImportForm(ConfirmImportForm):
    """Confirm step: the upload step's choices travel as hidden fields."""

    service = forms.ModelChoiceField(queryset=active_services(), widget=forms.HiddenInput)
    check_again = forms.BooleanField(required=False, widget=forms.HiddenInput)
    # Set on the second step offered for a file with bad rows: create from the valid ones.
    skip_bad_rows = forms.BooleanField(required=False, widget=forms.HiddenInput)


def file_size(size):
    # filesizeformat joins with a no-break space; a plain one reads the same everywhere.
    return filesizeformat(size).replace("\xa0", " ")
