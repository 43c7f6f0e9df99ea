"""Reading and checking an uploaded file of IMEIs (CSV or XLSX).

Plain functions, no models: bytes in, `(row number, cell text)` pairs out, then the IMEIs or
the messages that say which rows are wrong and why. Row numbers are the ones a spreadsheet
shows (the header is row 1; blank rows keep their numbers), so staff can find the cell.

A problem with the whole file (empty, binary, no IMEI column, too many rows) raises
`ImportFileError` with a message for the user; problems of single rows are collected, all of
them, so one upload shows everything that needs fixing.
"""

import codecs
import csv
import io
import re
from collections import Counter
from dataclasses import dataclass, field

from orders.imei import Problem, diagnose, pasted_values

# Headers that name the IMEI column: a plain list's `IMEI` and the vendor export's `IMEI NO.`
# (the export also has `IMEI 2`, which must not be taken for it).
IMEI_HEADERS = ("IMEI", "IMEI NO.", "IMEI NO")
MAX_MESSAGES = 200
SHOWN_VALUE_LENGTH = 40

ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # the old binary .xls
# Control bytes that never appear in a text file (tab, newlines and form feed excluded).
BINARY_BYTES = re.compile(rb"[\x00-\x08\x0e-\x1a\x1c-\x1f]")
# IMEIs pasted on the import page are stored like an upload, behind this first line, so the
# confirm step reads them back exactly as it reads a file.
PASTE_MAGIC = b"#pasted IMEIs\n"
# How the summary names each kind of bad row (orders.imei.Problem).
PROBLEM_LABELS = {
    Problem.CHECK_DIGIT: "fail the check digit",
    Problem.LENGTH: "have the wrong number of digits",
    Problem.CHARACTERS: "contain characters other than digits",
    Problem.SCIENTIFIC: "were turned into scientific notation by Excel",
}


class ImportFileError(Exception):
    """The file as a whole cannot be used; the message is shown to the user as is."""


@dataclass
class BadRow:
    number: int
    value: str
    kind: str
    problem: str


@dataclass
class CheckedRows:
    imeis: list = field(default_factory=list)  # unique, in file order
    duplicates: int = 0
    problems: list = field(default_factory=list)  # the first MAX_MESSAGES messages
    bad_rows: list = field(default_factory=list)  # every BadRow
    kinds: Counter = field(default_factory=Counter)  # Problem kind -> rows

    @property
    def problem_count(self):
        return len(self.bad_rows)

    @property
    def more_problems(self):
        return self.problem_count - len(self.problems)

    def kind_summary(self):
        """[(count, label)] of the kinds of bad row, most frequent first."""
        return [(n, PROBLEM_LABELS[kind]) for kind, n in self.kinds.most_common()]


# -- reading ------------------------------------------------------------------------------------


def read_imei_file(data, max_rows):
    """The `(row number, cell text)` of every non-blank IMEI cell of a CSV or XLSX file."""
    if not data.strip():
        raise ImportFileError("The file is empty.")
    if data.startswith(PASTE_MAGIC):
        return pasted_cells(decode(data[len(PASTE_MAGIC) :]), max_rows)
    if data.startswith(OLE_MAGIC):
        raise ImportFileError(
            "This is an old Excel .xls file. Save it as .xlsx or CSV and upload it again."
        )
    table = xlsx_rows(data) if data.startswith(ZIP_MAGIC) else csv_rows(decode(data))
    return imei_cells(table, max_rows)


def pasted_cells(text, max_rows):
    """The `(line number, value)` of IMEIs pasted into the import page."""
    cells = list(pasted_values(text))
    if not cells:
        raise ImportFileError("Nothing was pasted.")
    if len(cells) > max_rows:
        raise ImportFileError(
            f"More than {max_rows:,} IMEIs were pasted; the limit is {max_rows:,} per batch."
        )
    return cells


def pasted_file(text):
    """The bytes stored for pasted IMEIs (see PASTE_MAGIC)."""
    return PASTE_MAGIC + text.encode("utf-8")


def decode(data):
    """Text of a CSV file: UTF-8 (BOM or not), UTF-16 from Excel, else Windows-1252."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", errors="replace")
    if BINARY_BYTES.search(data[:65536]):
        raise ImportFileError(
            "This is not a CSV or XLSX file (it contains binary data). "
            "Upload a CSV or an Excel .xlsx file."
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Excel on Windows saves "CSV" in the ANSI code page. IMEIs are ASCII anyway, so
        # decoding the other columns approximately loses nothing; latin-1 never fails.
        try:
            return data.decode("cp1252")
        except UnicodeDecodeError:
            return data.decode("latin-1")


def sniff_delimiter(text):
    """`,`, `;` or tab, judged from the first lines; a one-column file gives `,`."""
    sample = "\n".join(text[:65536].splitlines()[:50])
    try:
        delimiter = csv.Sniffer().sniff(sample, delimiters=",;\t").delimiter
    except csv.Error:
        return ","
    return delimiter if delimiter in (",", ";", "\t") else ","


def csv_rows(text):
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sniff_delimiter(text))
    number = 0
    try:
        for number, row in enumerate(reader, start=1):
            yield number, [cell.strip() for cell in row]
    except csv.Error as exc:
        raise ImportFileError(f"Row {number + 1}: the file cannot be read as CSV ({exc}).") from exc


def xlsx_rows(data):
    """Rows of the first sheet, streamed (read-only mode) so a huge sheet is never loaded.

    `reset_dimensions` stops openpyxl from padding up to a declared size such as A1:A1048576:
    a sheet formatted down to the last row then costs only the rows really stored.
    """
    import openpyxl  # only XLSX uploads pay for importing it

    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        sheet = book.worksheets[0]
        sheet.reset_dimensions()
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield number, [cell_text(value) for value in values]
        book.close()
    except ImportFileError:
        raise
    except Exception as exc:  # openpyxl raises a zoo of types for damaged files
        raise ImportFileError(
            "The file cannot be read as an Excel workbook (.xlsx). "
            "Open it in Excel and save it as .xlsx or CSV again."
        ) from exc


def cell_text(value):
    """An XLSX cell as the text staff see in it."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and str(value).endswith("0" * 9):
        # A 15-digit number ending in nine zeros is what 3.52E+14 turns back into: the digits
        # were lost by an earlier round through CSV. Report it as the notation it came from.
        return f"{value:.2E}"
    return str(value).strip()


def imei_cells(table, max_rows):
    """The IMEI column's non-blank cells, at most `max_rows` of them."""
    rows = ((number, cells) for number, cells in table if any(cells))
    first = next(rows, None)
    if first is None:
        raise ImportFileError("The file is empty.")
    column, has_header = find_imei_column(first[1])
    cells = []
    if not has_header:
        cells.append((first[0], first[1][column]))
    for number, row in rows:
        value = row[column] if column < len(row) else ""
        if value:
            cells.append((number, value))
        if len(cells) > max_rows:
            raise ImportFileError(
                f"The file has more than {max_rows:,} IMEIs; the limit is {max_rows:,} per "
                "upload. Split it into smaller files."
            )
    if not cells:
        raise ImportFileError("The file has a header row but no IMEIs below it.")
    return cells


def find_imei_column(first_row):
    """(column index, whether the first row is a header)."""
    titles = [" ".join(cell.upper().split()) for cell in first_row]
    for name in IMEI_HEADERS:
        if name in titles:
            return titles.index(name), True
    filled = [i for i, cell in enumerate(first_row) if cell]
    if len(filled) == 1 and looks_like_data(first_row[filled[0]]):
        return filled[0], False
    shown = ", ".join(cell for cell in first_row if cell)
    raise ImportFileError(
        "No IMEI column: the first row needs a column titled IMEI (or IMEI NO., as in the "
        "vendor's export), or the file must be a single column of IMEIs without a header. "
        f"The first row reads: {shorten(shown, 120)}"
    )


def looks_like_data(cell):
    """A headerless file starts with an IMEI (perhaps a wrong one), not a title."""
    return sum(ch.isdigit() for ch in cell) >= 6


# -- checking -----------------------------------------------------------------------------------


def check_rows(cells, unit="Row"):
    """Check every cell; IMEIs repeated in the file are kept once and counted.

    `unit` names where a value was: a file's "Row" or a paste's "Line".
    """
    checked = CheckedRows()
    seen = set()
    for number, raw in cells:
        imei, kind, problem = diagnose(raw)
        if problem:
            checked.bad_rows.append(BadRow(number, raw, kind, problem))
            checked.kinds[kind] += 1
            if len(checked.problems) < MAX_MESSAGES:
                checked.problems.append(f'{unit} {number}: "{shorten(raw)}" {problem}')
        elif imei in seen:
            checked.duplicates += 1
        else:
            seen.add(imei)
            checked.imeis.append(imei)
    return checked


def shorten(text, limit=SHOWN_VALUE_LENGTH):
    return text if len(text) <= limit else text[: limit - 1] + "…"
