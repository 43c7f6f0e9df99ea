"""The files staff really upload, good and bad, through the real import view.

Good files: the upload's summary counts their IMEIs. Bad files or rows: the exact message,
and nothing is created.
"""

import codecs
import io

import openpyxl
import pytest
from openpyxl.styles import Font

from orders.models import Batch, Order
from tests.fixtures.factories import valid_imei
from tests.fixtures.imports import confirm, csv_of, file_errors, problems, upload, xlsx_of

A, B, C = valid_imei(1), valid_imei(2), valid_imei(3)


def new_orders(response):
    """The count the confirm page announces (the plan it would create)."""
    return response.context["result"].plan.imeis


def nothing_created():
    return (Batch.objects.count(), Order.objects.count()) == (0, 0)


# -- files that import -------------------------------------------------------------------------

GOOD_FILES = {
    "plain": csv_of([A, B, C]),
    "lower-case header": csv_of([A, B, C], header="imei"),
    "utf-8 BOM": codecs.BOM_UTF8 + csv_of([A, B, C]),
    "semicolons, quotes, CRLF": (
        f'"Imei";"Grade"\r\n"{A}";"A"\r\n"{B}";"B; scratched"\r\n"{C}";""\r\n'.encode()
    ),
    "tabs": f"Note\tIMEI\nfirst\t{A}\nsecond\t{B}\nthird\t{C}\n".encode(),
    "LF only, no final newline": f"IMEI\n{A}\n{B}\n{C}".encode(),
    "blank rows": f"IMEI\r\n\r\n{A}\r\n,\r\n{B}\r\n\r\n{C}\r\n\r\n".encode(),
    "spaces and dashes": (
        f"IMEI\n{A[:2]} {A[2:8]} {A[8:]}\n{B[:2]}-{B[2:8]}-{B[8:]}\n {C} \n".encode()
    ),
    "headerless column": f"{A}\n{B}\n{C}\n".encode(),
    "latin-1 notes": f"IMEI,Note\n{A},caf\xe9\n{B},na\xefve\n{C},\xa3\n".encode("latin-1"),
    "utf-16 from Excel": codecs.BOM_UTF16_LE
    + f"IMEI\tNote\r\n{A}\t\r\n{B}\t\r\n{C}\t\r\n".encode("utf-16-le"),
    "xlsx text cells": xlsx_of([["IMEI"], [A], [B], [C]]),
    "xlsx number cells": xlsx_of([["Grade", "IMEI"], ["A", int(A)], ["B", int(B)], ["C", int(C)]]),
    "xlsx headerless": xlsx_of([[A], [B], [None], [C]]),
}


@pytest.mark.parametrize("content", GOOD_FILES.values(), ids=GOOD_FILES.keys())
def test_it_reads_the_imeis_of(staff_client, service, content):
    name = "upload.xlsx" if content.startswith(b"PK") else "upload.csv"

    response = upload(staff_client, content, service, name=name)

    assert file_errors(response) == []
    assert new_orders(response) == [A, B, C]


def test_duplicate_rows_are_dropped_and_counted(staff_client, service):
    response = upload(staff_client, csv_of([A, B, A, A, f"{B[:2]}-{B[2:]}"]), service)

    assert new_orders(response) == [A, B]
    assert "3 duplicate rows dropped" in response.content.decode()


def phantom_rows_xlsx(imeis, styled_rows):
    """A sheet formatted far below its data, as Excel keeps it: styled cells with no value,
    down to the sheet's last row (it declares a million rows)."""
    book = openpyxl.Workbook()
    sheet = book.active
    for row in (["IMEI"], *([imei] for imei in imeis)):
        sheet.append(row)
    bold = Font(bold=True)
    for number in range(len(imeis) + 2, len(imeis) + 2 + styled_rows):
        sheet.cell(row=number, column=1).font = bold
    sheet.cell(row=1_048_576, column=1).font = bold
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_an_xlsx_formatted_far_below_its_data_reads_only_its_data(staff_client, service):
    content = phantom_rows_xlsx([A, B, C], styled_rows=20_000)

    response = upload(staff_client, content, service, name="phantom.xlsx")

    assert new_orders(response) == [A, B, C]


def test_a_good_xlsx_upload_confirms_into_a_batch(staff_client, service):
    response = upload(staff_client, xlsx_of([["IMEI"], [A], [B]]), service, name="day.xlsx")

    confirm(staff_client, response)

    assert Batch.objects.get().orders.count() == 2


# -- rows that are wrong -----------------------------------------------------------------------

SCIENTIFIC = (
    "was turned into scientific notation by Excel; the digits are lost. "
    "Format the column as Text and export again."
)


def test_every_bad_row_is_named_with_its_spreadsheet_row_number(staff_client, service):
    content = "\r\n".join(
        [
            "IMEI",  # row 1
            A,  # row 2
            "353370080089459",  # row 3: check digit
            "35A213021989030",  # row 4: letters
            "3.52E+14",  # row 5: Excel
            "",  # row 6: blank, skipped but counted
            "35213021989030",  # row 7: 14 digits
            A + "1",  # row 8: 16 digits
            '"3,52E+14"',  # row 9: Excel with a decimal comma (quoted in a comma CSV)
        ]
    ).encode()

    response = upload(staff_client, content, service)

    assert problems(response) == [
        'Row 3: "353370080089459" fails the IMEI check digit (Luhn): expected check digit 1, not 9',
        'Row 4: "35A213021989030" contains characters other than digits',
        f'Row 5: "3.52E+14" {SCIENTIFIC}',
        'Row 7: "35213021989030" has 14 digits; an IMEI has 15',
        f'Row 8: "{A}1" has 16 digits; an IMEI has 15',
        f'Row 9: "3,52E+14" {SCIENTIFIC}',
    ]
    page = response.content.decode()
    assert "Row 7: &quot;35213021989030&quot; has 14 digits; an IMEI has 15" in page
    assert nothing_created()


def test_an_xlsx_number_rounded_by_excel_is_reported_as_scientific_notation(staff_client, service):
    response = upload(staff_client, xlsx_of([["IMEI"], [A], [352000000000000]]), service)

    assert problems(response) == [f'Row 3: "3.52E+14" {SCIENTIFIC}']


def test_the_list_of_bad_rows_stops_at_200(staff_client, service):
    content = csv_of(["123"] * 250)

    response = upload(staff_client, content, service)

    assert len(problems(response)) == 200
    assert problems(response)[-1] == 'Row 201: "123" has 3 digits; an IMEI has 15'
    assert "and 50 more rows with problems" in response.content.decode()


# -- files that are wrong ----------------------------------------------------------------------

NO_COLUMN = (
    "No IMEI column: the first row needs a column titled IMEI (or IMEI NO., as in the "
    "vendor's export), or the file must be a single column of IMEIs without a header. "
)
BAD_FILES = {
    "empty": (b"\r\n\r\n \r\n", "The file is empty."),
    "blank cells only": (b",,\r\n , ,\r\n", "The file is empty."),
    "header only": (b"IMEI\r\n", "The file has a header row but no IMEIs below it."),
    "header and blank rows": (
        b"IMEI;Note\r\n;\r\n\r\n",
        "The file has a header row but no IMEIs below it.",
    ),
    "no IMEI column": (
        f"Serial,Grade\nF4GZLH2XN72N,{A}\n".encode(),
        NO_COLUMN + "The first row reads: Serial, Grade",
    ),
    "binary": (
        bytes(range(256)) * 4,
        "This is not a CSV or XLSX file (it contains binary data). "
        "Upload a CSV or an Excel .xlsx file.",
    ),
    "old xls": (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(500),
        "This is an old Excel .xls file. Save it as .xlsx or CSV and upload it again.",
    ),
    "zip that is no workbook": (
        b"PK\x03\x04" + bytes(100),
        "The file cannot be read as an Excel workbook (.xlsx). "
        "Open it in Excel and save it as .xlsx or CSV again.",
    ),
}


@pytest.mark.parametrize("content, message", BAD_FILES.values(), ids=BAD_FILES.keys())
def test_it_refuses_a_file_that_is(staff_client, service, content, message):
    response = upload(staff_client, content, service)

    assert response.status_code == 200
    assert file_errors(response) == [message]
    assert nothing_created()


def test_a_zero_byte_file_is_refused_by_the_form(staff_client, service):
    response = upload(staff_client, b"", service)

    assert file_errors(response) == ["The submitted file is empty."]


def test_more_rows_than_the_maximum_are_refused(staff_client, service, settings):
    settings.IMPORT_MAX_ROWS = 3

    assert file_errors(upload(staff_client, csv_of([A, B, C]), service)) == []
    response = upload(staff_client, csv_of([A, B, C, valid_imei(4)]), service)

    assert file_errors(response) == [
        "The file has more than 3 IMEIs; the limit is 3 per upload. Split it into smaller files."
    ]
    assert nothing_created()


def test_a_file_over_the_size_limit_is_refused(staff_client, service, settings):
    settings.IMPORT_MAX_BYTES = 1024

    response = upload(staff_client, csv_of([A] * 200), service)

    assert file_errors(response) == [
        "The file is 3.3 KB; the limit is 1.0 KB. Split it into smaller files."
    ]
