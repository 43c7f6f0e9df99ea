"""Driving the batch import through the real admin views (tests/test_import*.py)."""

import io

import openpyxl
from django.core.files.uploadedfile import SimpleUploadedFile

IMPORT_URL = "/admin/orders/order/import/"
CONFIRM_URL = "/admin/orders/order/process_import/"


def upload(client, content, service, name="imeis.csv", check_again=False):
    data = {"service": service.pk, "import_file": SimpleUploadedFile(name, content)}
    if check_again:
        data["check_again"] = "on"
    return client.post(IMPORT_URL, data)


def confirm(client, upload_response):
    """POST the confirm form exactly as the page renders it (hidden fields only)."""
    form = upload_response.context["confirm_form"]
    return client.post(CONFIRM_URL, {field.name: field.value() for field in form})


def csv_of(imeis, header="IMEI"):
    return "\r\n".join([header, *imeis]).encode() + b"\r\n"


def xlsx_of(rows):
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def problems(response):
    """The row messages of an upload whose rows failed (nothing created)."""
    result = response.context["result"]
    return result.problems


def file_errors(response):
    return response.context["form"].errors.get("import_file", [])
