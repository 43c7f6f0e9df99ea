"""The GSM Fusion reseller API client (see docs/provider-protocol.md, which is binding).

One thin class over one `requests.Session`. It never retries anything by itself: a repeated
placeorder can charge twice, so every decision to send again belongs to the caller, guided by
`ProviderError.kind`. It imports no models and reads settings only in `from_settings()`.
"""

import ipaddress
import logging
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from urllib.parse import urlsplit

import requests
from django.core.exceptions import ImproperlyConfigured
from django.views.decorators.debug import sensitive_variables
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

log = logging.getLogger(__name__)

API_PATH = "/gsmfusion_api/index.php"
MAX_IDS_PER_CALL = 100
TRANSIENT_STATUS_CODES = frozenset({429, 502, 503, 504})
IMEI_RE = re.compile(r"[0-9]{15}")


class ProviderError(Exception):
    """A failed call, with `kind` telling the caller whether sending again is safe."""

    TRANSIENT = "transient"  # not created (refused, 429, 502/503/504): retry later
    UNKNOWN_OUTCOME = "unknown_outcome"  # sent, answer lost: may exist, never re-send blindly
    DUPLICATE = "duplicate"  # `IMEI already exists!`: not charged by this call
    AUTH = "auth"  # `Invalid User!` / `Invalid API Key!`
    PERMANENT = "permanent"  # any other provider error, kept verbatim

    def __init__(self, kind, message, raw="", status_code=None):
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.raw = raw
        self.status_code = status_code

    @property
    def retry_safe(self):
        return self.kind == self.TRANSIENT

    def __str__(self):
        return self.message

    def __repr__(self):
        return f"ProviderError({self.kind!r}, {self.message!r}, status_code={self.status_code!r})"


class InsecureBaseURL(ImproperlyConfigured, ValueError):
    """A base URL the provider cannot serve; both a ValueError and ImproperlyConfigured."""


class MalformedAnswer(ValueError):
    """A body that is not the XML the protocol page describes."""


@dataclass(frozen=True)
class PlacedOrder:
    remote_id: int
    imei: str
    status: str
    raw: str


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


# -- parsing ---------------------------------------------------------------------------------

# The provider declares `<?phpxml ...?>`, which no XML parser accepts; a normal one may follow
# a proxy's rewrite. Both are dropped, and the body is wrapped so that repeated root elements
# (no <result> container) still parse.
_DECLARATION_RE = re.compile(r"^\ufeff?\s*<\?(?:php)?xml\b.*?\?>", re.IGNORECASE | re.DOTALL)
# An unescaped <br> is not well-formed XML; self-closing it keeps such a body readable.
_OPEN_BR_RE = re.compile(r"<br\s*>", re.IGNORECASE)


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
    if not value.isdigit():
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


# -- classification --------------------------------------------------------------------------

_ERROR_KINDS = {
    "imei already exists": ProviderError.DUPLICATE,
    "invalid user": ProviderError.AUTH,
    "invalid api key": ProviderError.AUTH,
}


def error_from_text(text, raw=""):
    """A root `<error>` message as a ProviderError; unknown texts are PERMANENT, verbatim."""
    kind = _ERROR_KINDS.get(text.strip().rstrip("!").strip().lower(), ProviderError.PERMANENT)
    return ProviderError(kind, text, raw=raw)


def error_from_exception(exc):
    """Classify a requests exception by whether the request could have reached the provider."""
    cause = _cause(exc)
    if isinstance(exc, requests.ConnectTimeout):
        return ProviderError(ProviderError.TRANSIENT, f"Could not connect (timed out): {cause}")
    if isinstance(exc, requests.ReadTimeout):
        return ProviderError(ProviderError.UNKNOWN_OUTCOME, f"No answer in time: {cause}")
    if isinstance(exc, requests.ConnectionError) and _never_connected(exc):
        return ProviderError(ProviderError.TRANSIENT, f"Could not connect: {cause}")
    # Anything else (connection dropped mid-call, broken chunked body...) happened after the
    # request may have been sent.
    message = f"Connection lost during the call: {cause}"
    return ProviderError(ProviderError.UNKNOWN_OUTCOME, message)


def _cause(exc):
    """The underlying urllib3 error (requests wraps it in MaxRetryError, despite no retry)."""
    reason = exc.args[0] if exc.args else exc
    return getattr(reason, "reason", None) or reason


def _never_connected(exc):
    if isinstance(exc, requests.exceptions.SSLError | requests.exceptions.ProxyError):
        return True  # the handshake failed: nothing was sent
    return isinstance(_cause(exc), NewConnectionError | ConnectTimeoutError)


def error_from_status(status_code, raw):
    if status_code in TRANSIENT_STATUS_CODES:
        return ProviderError(
            ProviderError.TRANSIENT, f"HTTP {status_code}: try again later", raw, status_code
        )
    if 300 <= status_code < 400:
        message = f"HTTP {status_code} redirect: the base URL is wrong (http instead of https?)"
        return ProviderError(ProviderError.PERMANENT, message, raw, status_code)
    return ProviderError(ProviderError.PERMANENT, f"HTTP {status_code}", raw, status_code)


# -- validation ------------------------------------------------------------------------------


def check_base_url(base_url):
    """The base URL without a trailing slash; refuses plain http beyond loopback."""
    parts = urlsplit(base_url or "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InsecureBaseURL(f"GSM_FUSION_BASE_URL {base_url!r} is not an http(s) URL")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise InsecureBaseURL(
            f"GSM_FUSION_BASE_URL must use https:// for {parts.hostname}: over http the provider "
            "redirects, the POST becomes a GET without its body, and every call answers "
            "`Invalid User!`. Plain http is only allowed for a fake provider on loopback."
        )
    base = base_url.rstrip("/")
    return base.removesuffix(API_PATH)


def _is_loopback(host):
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_imei(imei):
    if not isinstance(imei, str) or not IMEI_RE.fullmatch(imei):
        raise ValueError(
            f"placeorder takes exactly one 15-digit IMEI per call, not {imei!r} (the provider "
            "silently orders only the last IMEI of a comma list)"
        )
    return imei


# -- the client ------------------------------------------------------------------------------


class GsmFusionClient:
    def __init__(
        self, base_url, username, api_key, pool_size=30, connect_timeout=10, read_timeout=90
    ):
        self.base_url = check_base_url(base_url)
        self.username = username
        self._api_key = api_key  # never logged, never in a message or a repr
        self.timeout = (connect_timeout, read_timeout)
        self.session = requests.Session()
        # max_retries=0: urllib3 must not re-send anything, and redirects are not followed.
        adapter = HTTPAdapter(pool_maxsize=pool_size, max_retries=0)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)

    @classmethod
    def from_settings(cls):
        from django.conf import settings

        return cls(
            settings.GSM_FUSION_BASE_URL,
            settings.GSM_FUSION_USERNAME,
            settings.GSM_FUSION_API_KEY,
            pool_size=settings.SUBMIT_CONCURRENCY,
            connect_timeout=settings.GSM_FUSION_CONNECT_TIMEOUT,
            read_timeout=settings.GSM_FUSION_READ_TIMEOUT,
        )

    def __repr__(self):
        return f"<GsmFusionClient {self.base_url} user={self.username!r}>"

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def close(self):
        self.session.close()

    def list_services(self):
        answer = self._call_and_parse("imeiservices", {})
        return list(answer.packages)

    def place_order(self, imei, service_id):
        """Place one order. Raises ProviderError; UNKNOWN_OUTCOME means it may exist."""
        check_imei(imei)
        if isinstance(service_id, bool) or not isinstance(service_id, int) or service_id <= 0:
            raise ValueError(f"service_id must be a positive int, not {service_id!r}")
        body = self._call("placeorder", {"imei": imei, "networkId": str(service_id)})
        try:
            answer = parse_answer(body)
        except MalformedAnswer as exc:
            message = f"Unreadable placeorder answer ({exc}): the order may exist"
            raise ProviderError(ProviderError.UNKNOWN_OUTCOME, message, body) from None
        return placed_order_from(answer, imei, body)

    def order_statuses(self, remote_ids):
        """Status and result of up to MAX_IDS_PER_CALL orders; unknown ids are left out."""
        ids = [int(remote_id) for remote_id in remote_ids]
        if len(ids) > MAX_IDS_PER_CALL:
            raise ValueError(f"getimeis takes at most {MAX_IDS_PER_CALL} ids, not {len(ids)}")
        if not ids:
            return []
        answer = self._call_and_parse("getimeis", {"orderIds": ",".join(map(str, ids))})
        wanted = set(ids)
        return [order for order in answer.orders if order.remote_id in wanted]

    def _call_and_parse(self, action, params):
        """A read-only call: errors raise, a malformed body is PERMANENT (reads are safe)."""
        body = self._call(action, params)
        try:
            answer = parse_answer(body)
        except MalformedAnswer as exc:
            message = f"Unreadable {action} answer: {exc}"
            raise ProviderError(ProviderError.PERMANENT, message, body) from None
        if answer.errors and not (answer.orders or answer.packages):
            raise error_from_text("; ".join(answer.errors), body)
        return answer

    # The POST body carries the API key: an error report (a 500 page or mail) must not show the
    # variables of this frame, nor of the requests/urllib3 frames below it.
    @sensitive_variables()
    def _call(self, action, params):
        data = {"apiKey": self._api_key, "userId": self.username, "action": action, **params}
        try:
            response = self.session.post(
                self.base_url + API_PATH, data=data, timeout=self.timeout, allow_redirects=False
            )
        except requests.RequestException as exc:
            error = error_from_exception(exc)
            log.warning("GSM Fusion %s failed: %s (%s)", action, error.kind, error.message)
            raise error from exc
        body = response.content.decode("utf-8", errors="replace")
        log.debug("GSM Fusion %s answered HTTP %s", action, response.status_code)
        if response.status_code != 200:
            raise error_from_status(response.status_code, body[:2000])
        return body


def placed_order_from(answer, imei, raw):
    """The one order a placeorder answer must hold for `imei`, or the ProviderError it means.

    An order for our IMEI wins over any error text next to it: it was created and charged,
    so losing its id would be worse. Anything but exactly one order for our IMEI is
    UNKNOWN_OUTCOME (the provider once silently dropped IMEIs).
    """
    orders = answer.orders
    if len(orders) == 1 and orders[0].imei == imei:
        order = orders[0]
        if answer.errors:
            log.warning("placeorder for %s returned an order and errors: %s", imei, answer.errors)
        return PlacedOrder(remote_id=order.remote_id, imei=imei, status=order.status, raw=raw)
    if imei in answer.duplicates:
        message = "IMEI already exists! (listed under <imeiduplicates>)"
        raise ProviderError(ProviderError.DUPLICATE, message, raw)
    if answer.errors and not orders:
        raise error_from_text("; ".join(answer.errors), raw)
    found = ", ".join(f"{o.remote_id} for {o.imei}" for o in orders) or "none"
    message = f"placeorder for {imei} returned {len(orders)} orders ({found}): the order may exist"
    raise ProviderError(ProviderError.UNKNOWN_OUTCOME, message, raw)
