"""Reading the provider's XML answers (docs/provider-protocol.md, "Lists" and each action).

Pure parsing: no HTTP, no settings, no error classification (that is `errors.py`'s job).
"""

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation


class MalformedAnswer(ValueError):
    """A body that is not the XML the protocol page describes."""


@dataclass(frozen=True)
class RemoteOrder:
    remote_id: int
    imei: str
    status: str
    code: str
    package: str
    requested_at: str
    raw: str


@dataclass(frozen=True)
class CatalogueEntry:
    id: int
    title: str
    category: str
    price: Decimal
    delivery_time: str
    must_read: str


@dataclass(frozen=True)
class Answer:
    """Everything one body may carry; lists are empty when absent."""

    errors: tuple
    orders: tuple
    duplicates: tuple
    packages: tuple


# The provider declares `<?phpxml ...?>`, which no XML parser accepts; a normal one may follow
# a proxy's rewrite. Both are dropped, and the body is wrapped so that repeated root elements
# (no <result> container) still parse.
_DECLARATION_RE = re.compile(r"^\ufeff?\s*<\?(?:php)?xml\b.*?\?>", re.IGNORECASE | re.DOTALL)
# An unescaped <br> is not well-formed XML; self-closing it keeps such a body readable.
_OPEN_BR_RE = re.compile(r"<br\s*>", re.IGNORECASE)
# ASCII only: str.isdigit() accepts "²", which int() then refuses with a bare ValueError.
_DIGITS_RE = re.compile(r"[0-9]+")


def parse_answer(body):
    """Parse one answer body into an `Answer`; raises MalformedAnswer when it is not XML."""
    text = _OPEN_BR_RE.sub("<br/>", _DECLARATION_RE.sub("", body.strip(), count=1))
    try:
        root = ET.fromstring(f"<envelope>{text}</envelope>")
    except ET.ParseError as exc:
        raise MalformedAnswer(f"not XML ({exc})") from None
    return Answer(
        errors=tuple(_leaf_text(el) for el in _find_all(root, "error")),
        orders=tuple(_order(el) for el in _find_all(root, "imeis") if _child(el, "id") is not None),
        duplicates=tuple(_duplicates(root)),
        # getimeis also has a <package> (the service title): a catalogue Package has an id.
        packages=tuple(
            _package(el) for el in _find_all(root, "package") if _child(el, "packageid") is not None
        ),
    )


def _find_all(root, name):
    return [el for el in root.iter() if el.tag.lower() == name]


def _child(el, name):
    return next((c for c in el if c.tag.lower() == name), None)


def _leaf_text(el):
    """The text of a leaf, stripped; inner markup (rare, e.g. `<br/>`) is kept as markup."""
    if el is None:
        return ""
    inner = (el.text or "") + "".join(ET.tostring(c, encoding="unicode") for c in el)
    return inner.strip()


def _field(el, name):
    return _leaf_text(_child(el, name))


def _int_field(el, name):
    value = _field(el, name)
    if not _DIGITS_RE.fullmatch(value):
        raise MalformedAnswer(f"<{name}> is {value!r}, not a number")
    return int(value)


def _order(el):
    return RemoteOrder(
        remote_id=_int_field(el, "id"),
        imei=_field(el, "imei"),
        status=_field(el, "status"),
        code=_field(el, "code"),
        package=_field(el, "package"),
        requested_at=_field(el, "requestedat"),
        raw=ET.tostring(el, encoding="unicode").strip(),
    )


def _duplicates(root):
    for container in _find_all(root, "imeiduplicates"):
        for el in _find_all(container, "imei"):
            yield from (imei.strip() for imei in _leaf_text(el).split(",") if imei.strip())


def _package(el):
    price = _field(el, "packageprice").lstrip("$").replace(",", "")
    try:
        price = Decimal(price)
    except InvalidOperation:
        raise MalformedAnswer(f"<PackagePrice> is {price!r}, not a price") from None
    return CatalogueEntry(
        id=_int_field(el, "packageid"),
        title=_field(el, "packagetitle"),
        category=_field(el, "category"),
        price=price,
        delivery_time=_field(el, "timetaken"),
        must_read=_field(el, "mustread"),
    )
