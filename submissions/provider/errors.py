"""What a failed call means: the error kinds, and which failures prove the order was not created.

A failed placeorder is TRANSIENT (safe to send again) only when the request cannot have
reached the order logic; everything else that may have reached it is UNKNOWN_OUTCOME.
"""

import requests
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

# Refused at the front door, before the request reaches the order logic (RFC 9110: 429 "too
# many requests", 503 "unable to handle the request"; gateways answer 503 when they forward
# nothing: no live upstream, a rate or connection limit, maintenance). Safe to send again.
NOT_CREATED_STATUS_CODES = frozenset({429, 503})
# A gateway that forwarded the request and lost the answer (bad or no answer in time): the
# provider may have created the order. Reads are safe to repeat; a placeorder is not.
GATEWAY_STATUS_CODES = frozenset({502, 504})


class ProviderError(Exception):
    """A failed call, with `kind` telling the caller whether sending again is safe."""

    TRANSIENT = "transient"  # proven not created (refused, DNS, 429, 503): retry later
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

    def __str__(self):
        return self.message

    def __repr__(self):
        return f"ProviderError({self.kind!r}, {self.message!r}, status_code={self.status_code!r})"


class InvalidRequest(ProviderError, ValueError):
    """Arguments refused before any request: certainly not sent, never charged (PERMANENT).

    A ValueError too, for callers that validate input; the engine must see a ProviderError,
    because any other exception during placeorder means "may have been placed".
    """

    def __init__(self, message):
        super().__init__(ProviderError.PERMANENT, message)


_ERROR_KINDS = {
    "imei already exists": ProviderError.DUPLICATE,
    "invalid user": ProviderError.AUTH,
    "invalid api key": ProviderError.AUTH,
}


def error_from_text(text, raw=""):
    """A root `<error>` message as a ProviderError; unknown texts are PERMANENT, verbatim."""
    kind = _ERROR_KINDS.get(text.strip().rstrip("!").strip().lower(), ProviderError.PERMANENT)
    return ProviderError(kind, text, raw=raw)


def error_from_exception(exc, request_started=True):
    """Classify a requests exception by whether the request could have reached the provider.

    Only what proves the request never left is TRANSIENT: no connection (refused, DNS, connect
    timeout) or a failed TLS handshake. `request_started` says whether the request was handed
    to the connection; a TLS error after that (while sending or reading) is UNKNOWN_OUTCOME.
    """
    cause = _cause(exc)
    if isinstance(exc, requests.ConnectTimeout):
        return ProviderError(ProviderError.TRANSIENT, f"Could not connect (timed out): {cause}")
    if isinstance(exc, requests.ReadTimeout):
        return ProviderError(ProviderError.UNKNOWN_OUTCOME, f"No answer in time: {cause}")
    if isinstance(exc, requests.ConnectionError) and _never_connected(exc, request_started):
        return ProviderError(ProviderError.TRANSIENT, f"Could not connect: {cause}")
    # Anything else (connection dropped mid-call, a TLS error while reading, a broken chunked
    # body...) happened after the request may have been sent.
    message = f"Connection lost during the call: {cause}"
    return ProviderError(ProviderError.UNKNOWN_OUTCOME, message)


def _cause(exc):
    """The underlying urllib3 error (requests wraps it in MaxRetryError, despite no retry)."""
    reason = exc.args[0] if exc.args else exc
    return getattr(reason, "reason", None) or reason


def _never_connected(exc, request_started):
    if isinstance(exc, requests.exceptions.ProxyError):
        return True  # the proxy (or the tunnel through it) failed: nothing reached the provider
    if isinstance(exc, requests.exceptions.SSLError):
        return not request_started  # the handshake failed: nothing was sent
    return isinstance(_cause(exc), NewConnectionError | ConnectTimeoutError)


def error_from_status(status_code, raw, action=""):
    gateway = status_code in GATEWAY_STATUS_CODES
    if status_code in NOT_CREATED_STATUS_CODES or (gateway and action != "placeorder"):
        return ProviderError(
            ProviderError.TRANSIENT, f"HTTP {status_code}: try again later", raw, status_code
        )
    if 300 <= status_code < 400:
        message = f"HTTP {status_code} redirect: the base URL is wrong (http instead of https?)"
        return ProviderError(ProviderError.PERMANENT, message, raw, status_code)
    if gateway:
        message = f"HTTP {status_code}: a gateway lost the provider's answer; the order may exist"
        return ProviderError(ProviderError.UNKNOWN_OUTCOME, message, raw, status_code)
    if status_code >= 500 and action == "placeorder":
        # A server error may come after the order was created.
        message = f"HTTP {status_code}: the provider failed while placing it; the order may exist"
        return ProviderError(ProviderError.UNKNOWN_OUTCOME, message, raw, status_code)
    return ProviderError(ProviderError.PERMANENT, f"HTTP {status_code}", raw, status_code)
