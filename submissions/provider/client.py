"""The GSM Fusion reseller API client (see docs/provider-protocol.md, which is binding).

One thin class over one `requests.Session`. It never retries anything by itself: a repeated
placeorder can charge twice, so every decision to send again belongs to the caller, guided by
`ProviderError.kind`. It imports no models and reads settings only in `from_settings()`.
"""

import ipaddress
import logging
import re
import threading
from urllib.parse import urlsplit

import requests
from django.core.exceptions import ImproperlyConfigured
from django.views.decorators.debug import sensitive_variables
from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPSConnectionPool

from .answers import MalformedAnswer, parse_answer
from .errors import (
    InvalidRequest,
    ProviderError,
    error_from_exception,
    error_from_status,
    error_from_text,
)
from .metrics import CALL_SECONDS, IN_FLIGHT
from .placed import placed_order_from
from .transport import BoundedHTTPConnectionPool, BoundedHTTPSConnection

log = logging.getLogger(__name__)

API_PATH = "/gsmfusion_api/index.php"
MAX_IDS_PER_CALL = 100
READ_ACTIONS = frozenset({"imeiservices", "getimeis"})
IMEI_RE = re.compile(r"[0-9]{15}")


class InsecureBaseURL(ImproperlyConfigured, ValueError):
    """A base URL the provider cannot serve; both a ValueError and ImproperlyConfigured."""


# -- knowing whether the request left --------------------------------------------------------

# Per thread (each call runs on one thread): set once the request is handed to the connection.
_progress = threading.local()


class _TrackedHTTPSConnection(BoundedHTTPSConnection):
    """Notes that the request is being sent; the TLS handshake is over by then."""

    def request(self, *args, **kwargs):
        _progress.request_started = True
        return super().request(*args, **kwargs)


class _TrackedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _TrackedHTTPSConnection


class _Adapter(HTTPAdapter):
    """An HTTPAdapter whose https connections say whether a request was sent (see above)."""

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": BoundedHTTPConnectionPool,
            "https": _TrackedHTTPSConnectionPool,
        }


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
        raise InvalidRequest(
            f"Not sent: placeorder takes exactly one 15-digit IMEI per call, not {imei!r} (the "
            "provider silently orders only the last IMEI of a comma list)"
        )
    return imei


def check_service_id(service_id):
    if isinstance(service_id, bool) or not isinstance(service_id, int) or service_id <= 0:
        raise InvalidRequest(f"Not sent: service_id must be a positive int, not {service_id!r}")
    return service_id


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
        # Name resolution counts against the connect timeout (transport.py), and https
        # connections say whether the request left (see _TrackedHTTPSConnection).
        adapter = _Adapter(pool_maxsize=pool_size, max_retries=0)
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
        """Place one order. Raises ProviderError; UNKNOWN_OUTCOME means it may exist.

        Bad arguments raise InvalidRequest (PERMANENT) before any request is made.
        """
        check_imei(imei)
        check_service_id(service_id)
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
            raise InvalidRequest(f"getimeis takes at most {MAX_IDS_PER_CALL} ids, not {len(ids)}")
        if not ids:
            return []
        answer = self._call_and_parse("getimeis", {"orderIds": ",".join(map(str, ids))})
        wanted = set(ids)
        return [order for order in answer.orders if order.remote_id in wanted]

    def read_body(self, action, **params):
        """The raw body of a read-only call (imeiservices, getimeis), for the contract canary.

        HTTP and transport errors raise as for any call; the body is not parsed.
        """
        if action not in READ_ACTIONS:
            raise InvalidRequest(f"{action} is not a read-only action")
        return self._call(action, params)

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
        _progress.request_started = False
        try:
            with IN_FLIGHT.labels(action).track_inprogress(), CALL_SECONDS.labels(action).time():
                response = self.session.post(
                    self.base_url + API_PATH, data=data, timeout=self.timeout, allow_redirects=False
                )
        except requests.RequestException as exc:
            error = error_from_exception(exc, _progress.request_started)
            log.warning("GSM Fusion %s failed: %s (%s)", action, error.kind, error.message)
            raise error from exc
        body = response.content.decode("utf-8", errors="replace")
        log.debug("GSM Fusion %s answered HTTP %s", action, response.status_code)
        if response.status_code != 200:
            raise error_from_status(response.status_code, body[:2000], action)
        return body
