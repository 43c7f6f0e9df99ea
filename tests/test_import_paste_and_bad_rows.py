"""Pasting IMEIs on the import page, and a file with bad rows made into a batch of the rest."""

import csv
import io
from datetime import timedelta
from decimal import Decimal

from django.contrib.admin.models import LogEntry
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from orders.imei import pasted_values
from orders.models import Batch
from tests.fixtures.factories import make_batch, make_service, valid_imei
from tests.fixtures.imports import IMPORT_URL, confirm, csv_of, problems, upload

CONFIRM_URL = "/admin/orders/order/process_import/"


def paste(client, text, service, check_again=False):
    data = {"service": service.pk, "imei_text": text}
    if check_again:
        data["check_again"] = "on"
    return client.post(IMPORT_URL, data)


def confirm_valid_rows(client, response):
    form = response.context["valid_rows_form"]
    return client.post(CONFIRM_URL, {field.name: field.value() for field in form})


def form_errors(response):
    return response.context["form"].non_field_errors()


def test_pasted_values_join_spaces_and_dashes_inside_one_imei_and_keep_their_order():
    text = "351-669784 801844\n353370080089459 353370080089467, hello\t3.52E+14\n35 337008 008945 9"

    assert list(pasted_values(text)) == [
        (1, "351-669784 801844"),
        (2, "353370080089459"),
        (2, "353370080089467"),
        (2, "hello"),
        (2, "3.52E+14"),
        (3, "35 337008 008945 9"),
    ]


def test_four_pasted_imeis_become_a_confirmed_batch_named_for_the_paste(staff_client, service):
    imeis = [valid_imei(n) for n in range(1, 5)]
    text = f"{imeis[0]}\n{imeis[1]}, {imeis[2]}\t{imeis[3][:3]}-{imeis[3][3:9]} {imeis[3][9:]}"

    response = paste(staff_client, text, service)

    stamp = f"{timezone.localtime():%H:%M}"
    assert f"File: pasted {stamp}, 4 IMEIs" in response.content.decode()
    assert "Cost: 4 × $0.08 = $0.32" in response.content.decode()
    assert Batch.objects.count() == 0
    response = confirm(staff_client, response)
    batch = Batch.objects.get()
    assert batch.source_name == f"pasted {stamp}, 4 IMEIs"
    assert list(batch.orders.order_by("id").values_list("imei", flat=True)) == imeis


def test_pasted_text_that_is_no_imei_is_named_by_its_line(staff_client, service):
    response = paste(staff_client, f"{valid_imei(1)}\nhello\n12345", service)

    assert problems(response) == [
        'Line 2: "hello" contains characters other than digits',
        'Line 3: "12345" has 5 digits; an IMEI has 15',
    ]
    assert response.context["form"]["imei_text"].value() == f"{valid_imei(1)}\nhello\n12345"


def test_more_pasted_imeis_than_the_maximum_are_refused_beside_the_paste_box(
    staff_client, service, settings
):
    settings.IMPORT_MAX_ROWS = 2

    response = paste(staff_client, " ".join(valid_imei(n) for n in range(3)), service)

    assert response.context["form"].errors["imei_text"] == [
        "More than 2 IMEIs were pasted; the limit is 2 per batch."
    ]
    assert Batch.objects.count() == 0


def test_a_file_and_a_paste_together_or_neither_are_refused(staff_client, service):
    both = {
        "service": service.pk,
        "imei_text": valid_imei(1),
        "import_file": SimpleUploadedFile("a.csv", csv_of([valid_imei(2)])),
    }

    assert form_errors(staff_client.post(IMPORT_URL, both)) == [
        "Choose a file or paste IMEIs, not both."
    ]
    assert form_errors(staff_client.post(IMPORT_URL, {"service": service.pk})) == [
        "Choose a file or paste IMEIs."
    ]


def thousand_rows_with_three_bad():
    imeis = [valid_imei(n) for n in range(1000)]
    bad = {5: "353370080089458", 500: "35A213021989030", 998: "3521302198903"}
    for index, value in bad.items():
        imeis[index] = value
    return imeis


def test_a_file_with_bad_rows_counts_them_by_kind_and_creates_nothing_yet(staff_client, service):
    response = upload(staff_client, csv_of(thousand_rows_with_three_bad()), service)

    page = response.content.decode()
    assert "Nothing was imported: 3 of 1,000 rows are wrong" in page
    assert "1 fail the check digit" in page
    assert "1 contain characters other than digits" in page
    assert "1 have the wrong number of digits" in page
    assert 'Row 7: "353370080089458" fails the IMEI check digit (Luhn): expected check digit 1' in (
        "\n".join(problems(response))
    )
    assert "Create the batch from 997 valid rows ($79.76)" in page
    assert Batch.objects.count() == 0


def test_the_valid_rows_step_makes_a_997_order_batch_naming_the_3_left_out(staff_client, service):
    response = upload(staff_client, csv_of(thousand_rows_with_three_bad()), service, "good.csv")

    response = confirm_valid_rows(staff_client, response)

    batch = Batch.objects.get()
    assert batch.orders.count() == 997
    assert batch.note == (
        'Created from the valid rows only. Left out 3 bad rows: row 7 "353370080089458", '
        'row 502 "35A213021989030", row 1000 "3521302198903".'
    )
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        f"Batch {batch.pk} created: 997 orders queued (cost $79.76); 3 bad rows left out, "
        "named in its note"
    ]
    # Pausing replaces the note: the batch's History keeps the left-out rows for good.
    (entry,) = LogEntry.objects.filter(object_id=str(batch.pk))
    assert entry.change_message == f"Imported from good.csv. {batch.note}"


def test_the_plain_confirm_of_a_file_with_bad_rows_still_creates_nothing(staff_client, service):
    response = upload(staff_client, csv_of(thousand_rows_with_three_bad()), service)
    form = response.context["valid_rows_form"]
    data = {field.name: field.value() for field in form}

    staff_client.post(CONFIRM_URL, {**data, "skip_bad_rows": ""})

    assert Batch.objects.count() == 0


def test_the_bad_rows_download_lists_each_bad_row_with_its_problem(staff_client, service):
    response = upload(staff_client, csv_of(thousand_rows_with_three_bad()), service)

    download = staff_client.get(response.context["bad_rows_url"])

    assert download["Content-Disposition"] == 'attachment; filename="bad-rows.csv"'
    rows = list(csv.reader(io.StringIO(download.content.decode("utf-8-sig"))))
    assert rows == [
        ["ROW", "VALUE", "PROBLEM"],
        [
            "7",
            '="353370080089458"',  # Excel keeps the digits as text (not 3.53E+14)
            "fails the IMEI check digit (Luhn): expected check digit 1, not 8",
        ],
        ["502", "35A213021989030", "contains characters other than digits"],
        ["1000", '="3521302198903"', "has 13 digits; an IMEI has 15"],
    ]


def test_the_bad_rows_download_reads_only_a_signed_upload_name(staff_client, service):
    assert staff_client.get(IMPORT_URL + "bad-rows/?file=/etc/passwd").status_code == 404


def test_services_used_in_the_last_30_days_are_offered_first(staff_client):
    make_service(id=1, title="A cheap checker")
    recent = make_service(id=2, title="Z unlock", price=Decimal("25.00"), delivery_time="1-5 Days")
    old = make_service(id=3, title="M checker")
    make_batch(service=recent)
    make_batch(service=old, created_at=timezone.now() - timedelta(days=40))

    choices = staff_client.get(IMPORT_URL).context["form"].fields["service"].choices

    assert [(group, [label for _, label in options]) for group, options in choices[1:]] == [
        ("Used in the last 30 days", ["$25.00 · 1-5 Days · Z unlock"]),
        (
            "All services",
            [
                "$0.08 · Instant-5 Minutes · A cheap checker",
                "$0.08 · Instant-5 Minutes · M checker",
            ],
        ),
    ]
