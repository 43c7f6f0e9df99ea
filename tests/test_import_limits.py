"""The upload size limit on a really big file (tests/test_import_corpus.py covers the rest).

A 50 MB upload is spooled to a temporary file by Django (it is over FILE_UPLOAD_MAX_MEMORY_SIZE)
and refused by the form on its size alone: its content is never read, let alone parsed.
"""

from django.core.files.uploadedfile import TemporaryUploadedFile

from orders.models import Batch, Order
from portal.admin import resources
from tests.fixtures.factories import valid_imei
from tests.fixtures.imports import file_errors, upload

FIFTY_MB = 50 * 1024 * 1024


def test_a_50_mb_file_is_refused_by_its_size_without_being_read(staff_client, service, monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("the file was read")

    monkeypatch.setattr(resources, "read_imei_file", never)
    row = f"{valid_imei(1)}\r\n".encode()
    content = b"IMEI\r\n" + row * (FIFTY_MB // len(row))

    response = upload(staff_client, content, service, name="huge.csv")

    assert response.status_code == 200
    assert file_errors(response) == [
        "The file is 50.0 MB; the limit is 10.0 MB. Split it into smaller files."
    ]
    assert isinstance(response.wsgi_request.FILES["import_file"], TemporaryUploadedFile)
    assert (Batch.objects.count(), Order.objects.count()) == (0, 0)
