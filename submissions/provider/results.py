"""Reading the result `code` of a finished order (see docs/provider-protocol.md).

The code is `Label: value` pairs separated by `<br>` variants, sometimes with inline tags.
Values are never split on `-`: "T-Mobile" is a carrier, not two fields.
"""

import html
import re

# `<br>`, `<br/>`, `<br />` in any case, and plain newlines (so result_text parses again).
_SEPARATOR_RE = re.compile(r"<\s*br\s*/?\s*>|\r?\n", re.IGNORECASE)
_ESCAPED_BR_RE = re.compile(r"&lt;\s*br\b", re.IGNORECASE)
_TAG_RE = re.compile(r"<[^>]*>")
_SPACES_RE = re.compile(r"\s+")

# Normalised label (lower case, letters and digits only) -> parsed field.
LABELS = {
    "model": "model_name",
    "carrier": "carrier",
    "simlock": "simlock",
    "findmyiphone": "fmi",
    "fmi": "fmi",
    "imei2number": "imei2",
    "imei2": "imei2",
    "serialnumber": "serial",
    "serial": "serial",
    "currentgsmastatus": "gsma_status",
    "gsmastatus": "gsma_status",
    "estimatedpurchasedate": "purchase_date",
    "purchasedate": "purchase_date",
    "applecareeligible": "applecare",
    "applecare": "applecare",
}
# The sizes of the matching Order fields: an odd result must not break saving it.
MAX_LENGTHS = {
    "model_name": 200,
    "carrier": 200,
    "simlock": 100,
    "fmi": 50,
    "imei2": 20,
    "serial": 50,
    "gsma_status": 100,
    "purchase_date": 50,
    "applecare": 50,
}


def parse_result(code):
    """The parsed fields of a result code, plus `result_text`: one `Label: value` per line.

    Fields the code does not carry are empty strings; a code without pairs (a rejection
    reason such as `Invalid_IMEI`) is kept as the text.
    """
    fields = dict.fromkeys(MAX_LENGTHS, "")
    lines = []
    for label, value in pairs(code):
        lines.append(f"{label}: {value}" if label else value)
        field = LABELS.get(_normalise(label))
        if field and not fields[field]:
            fields[field] = value[: MAX_LENGTHS[field]]
    fields["result_text"] = "\n".join(lines)
    return fields


def advanced_export_code(code):
    """The code on one line, pairs joined by " - ", as the vendor's Advanced Export writes it."""
    return " - ".join(f"{label}: {value}" if label else value for label, value in pairs(code))


def pairs(code):
    """(label, value) for every non-empty part of the code; label is "" for a bare text."""
    code = code or ""
    if _ESCAPED_BR_RE.search(code):  # still XML-escaped: unescape once before splitting
        code = html.unescape(code)
    result = []
    for part in _SEPARATOR_RE.split(code):
        text = _clean(part)
        if not text:
            continue
        label, colon, value = text.partition(":")
        result.append((label.strip(), value.strip()) if colon else ("", text))
    return result


def _clean(part):
    text = html.unescape(_TAG_RE.sub("", part))
    return _SPACES_RE.sub(" ", text).strip()


def _normalise(label):
    return re.sub(r"[^a-z0-9]", "", label.lower())
