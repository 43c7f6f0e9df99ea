"""Exports that open right in Excel: the XLSX has CREDITS as numbers and
ORDER DATE as dates, column widths and a frozen header; the bad-rows CSV keeps IMEIs as text."""

import io
from datetime import datetime
from decimal import Decimal

import openpyxl
import pytest
from django.utils import timezone

from orders.models import Order
from portal.admin.import_admin import text_for_excel
from tests.fixtures.factories import make_batch, make_order, valid_imei

pytestmark = pytest.mark.django_db


def test_the_xlsx_has_numbers_dates_widths_and_a_frozen_header(staff_client):
    batch = make_batch()
    sent = timezone.make_aware(datetime(2026, 11, 14, 3, 33))
    make_order(batch, Order.Status.COMPLETED, imei=valid_imei(1), cost=Decimal("0.08"),
               submitted_at=sent)  # fmt: skip

    response = staff_client.get(f"/admin/orders/batch/{batch.pk}/export/?format=xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content))).active

    header, row = list(sheet.iter_rows(min_row=1, max_row=2))
    credits, date = row[2], row[10]
    assert (credits.value, credits.number_format) == (0.08, '"$"#,##0.00')
    assert date.value == timezone.localtime(sent).replace(tzinfo=None)
    assert date.is_date
    assert row[1].value == valid_imei(1) and row[1].data_type == "s"
    assert sheet.freeze_panes == "A2"
    assert sheet.column_dimensions["A"].width == 48
    assert sheet.column_dimensions["B"].width == 17


def test_the_bad_rows_csv_writes_digits_as_text_and_escapes_formulas():
    assert text_for_excel("353370080089458") == '="353370080089458"'
    assert text_for_excel("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert text_for_excel("3.52E+14") == "3.52E+14"
