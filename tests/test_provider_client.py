"""The client over real loopback sockets: against the fake, and against a scripted server
for the answers the fake never gives (503, 500, a redirect, a dropped connection)."""

import logging
import os
import re
import socket
import ssl
import subprocess
import threading
from urllib.parse import parse_qs

import pytest
from django.core.exceptions import ImproperlyConfigured

from devtools.fakefusion.server import completed_code
from submissions.provider import GsmFusionClient, ProviderError
from submissions.provider.results import parse_result
from tests.fixtures.clock import ManualClock
from tests.fixtures.factories import valid_imei
from tests.fixtures.provider import provider_sample
from tests.fixtures.provider_server import KEY, ScriptedServer

IMEI = valid_imei(8)  # 350000000000089: completes as a locked iPhone 14 on T-Mobile


@pytest.fixture
def scripted():
    """Start a ScriptedServer for a list of steps; returns (server, client)."""
    started = []

    def start(*script):
        server = ScriptedServer(script)
        threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True).start()
        started.append(server)
        return server, GsmFusionClient(server.base_url, "demo", KEY, read_timeout=2)

    yield start
    for server in started:
        server.shutdown()
        server.server_close()


def error_of(call, *args):
    with pytest.raises(ProviderError) as caught:
        call(*args)
    return caught.value


# -- configuration ---------------------------------------------------------------------------


def test_it_refuses_plain_http_for_a_remote_host():
    with pytest.raises(ValueError) as caught:
        GsmFusionClient("http://hammerfusion.com", "demo", KEY)

    assert isinstance(caught.value, ImproperlyConfigured)
    assert str(caught.value) == (
        "GSM_FUSION_BASE_URL must use https:// for hammerfusion.com: over http the provider "
        "redirects, the POST becomes a GET without its body, and every call answers "
        "`Invalid User!`. Plain http is only allowed for a fake provider on loopback."
    )


@pytest.mark.parametrize(
    "base_url",
    ["http://127.0.0.1:8765", "http://127.9.9.9", "http://localhost:8765/", "http://[::1]:8765"],
)
def test_it_allows_plain_http_on_loopback(base_url):
    assert GsmFusionClient(base_url, "demo", KEY).base_url == base_url.rstrip("/")


def test_it_accepts_a_base_url_that_already_ends_with_the_api_path():
    client = GsmFusionClient("https://hammerfusion.com/gsmfusion_api/index.php", "demo", KEY)

    assert client.base_url == "https://hammerfusion.com"


def test_it_uses_one_pool_sized_for_the_concurrency_and_never_retries():
    client = GsmFusionClient("https://hammerfusion.com", "demo", KEY, pool_size=120)
    adapter = client.session.get_adapter("https://hammerfusion.com/")

    assert adapter._pool_maxsize == 120
    assert adapter.max_retries.total == 0
    assert client.timeout == (10, 90)


def test_it_builds_itself_from_settings(settings):
    settings.GSM_FUSION_BASE_URL = "https://hammerfusion.com/"
    settings.GSM_FUSION_READ_TIMEOUT = 45
    settings.SUBMIT_CONCURRENCY = 12

    client = GsmFusionClient.from_settings()

    assert (client.base_url, client.username, client.timeout) == (
        "https://hammerfusion.com",
        "demo",
        (10, 45),
    )
    assert client.session.get_adapter(client.base_url)._pool_maxsize == 12


def test_it_keeps_the_api_key_out_of_reprs_errors_and_logs(fake_provider, settings, caplog):
    settings.GSM_FUSION_API_KEY = "SECR-ETSE-CRET-SECR-ET00"
    client = GsmFusionClient.from_settings()
    caplog.set_level(logging.DEBUG)

    error = error_of(client.place_order, IMEI, 1739)

    assert error.kind == ProviderError.AUTH
    texts = [repr(client), repr(error), str(error), error.raw, caplog.text]
    assert not [text for text in texts if "SECR" in text]


# -- validation before any request -----------------------------------------------------------


@pytest.mark.parametrize(
    "imei", [f"{IMEI},{valid_imei(2)}", IMEI[:14], f" {IMEI}", 350000000000017, "35000000000001x"]
)
def test_it_refuses_anything_but_one_15_digit_imei_before_any_request(provider_client, imei):
    with pytest.raises(ValueError, match="placeorder takes exactly one 15-digit IMEI per call"):
        provider_client.place_order(imei, 1739)


@pytest.mark.parametrize(
    ("imei", "service_id", "message"),
    [
        (
            "35547349605456",
            1739,
            "Not sent: placeorder takes exactly one 15-digit IMEI per call, not '35547349605456' "
            "(the provider silently orders only the last IMEI of a comma list)",
        ),
        (IMEI, 0, "Not sent: service_id must be a positive int, not 0"),
        (IMEI, "1739", "Not sent: service_id must be a positive int, not '1739'"),
    ],
)
def test_it_refuses_bad_placeorder_arguments_as_a_permanent_error_without_sending(
    provider_client, fake_provider, imei, service_id, message
):
    error = error_of(provider_client.place_order, imei, service_id)

    assert (type(error).__name__, error.kind, error.message) == (
        "InvalidRequest",
        ProviderError.PERMANENT,
        message,
    )
    assert fake_provider.stats()["calls"] == {}


def test_it_refuses_more_than_100_ids_before_any_request(provider_client, fake_provider):
    with pytest.raises(ValueError, match="^getimeis takes at most 100 ids, not 101$"):
        provider_client.order_statuses(range(1, 102))

    assert provider_client.order_statuses([]) == []
    assert fake_provider.stats()["calls"] == {}


# -- against the fake ------------------------------------------------------------------------


def test_it_places_an_order_and_reads_its_completed_result(provider_client, fake_provider):
    # The fixture's fake completes orders after 0.3 s of its clock: one the test advances.
    fake_provider.clock, fake_provider.latency = ManualClock(), 0
    placed = provider_client.place_order(IMEI, 1739)
    (pending,) = provider_client.order_statuses([placed.remote_id])
    fake_provider.clock.advance(1)
    (completed,) = provider_client.order_statuses([placed.remote_id, 99999999])

    assert (placed.remote_id, placed.imei, placed.status) == (15562209, IMEI, "Pending")
    assert (pending.status, pending.code) == ("Pending", "")
    assert (completed.remote_id, completed.status) == (15562209, "Completed")
    assert completed.code == completed_code(IMEI)
    parsed = parse_result(completed.code)
    assert (parsed["model_name"], parsed["carrier"], parsed["simlock"], parsed["fmi"]) == (
        "iPhone 14 Pro Max Deep Purple 256GB",
        "T-Mobile",
        "Locked",
        "ON",
    )
    assert fake_provider.stats()["charged"] == "0.08"


def test_it_raises_duplicate_on_a_second_placeorder(provider_client, fake_provider):
    provider_client.place_order(IMEI, 1739)

    error = error_of(provider_client.place_order, IMEI, 1739)

    assert (error.kind, error.message, error.kind == ProviderError.TRANSIENT) == (
        ProviderError.DUPLICATE,
        "IMEI already exists!",
        False,
    )
    assert fake_provider.stats()["orders_created"] == 1


def test_it_lists_the_catalogue(provider_client):
    services = {s.id: s for s in provider_client.list_services()}

    assert str(services[1739].price) == "0.08"
    assert services[1739].delivery_time == "Instant-5 Minutes"


@pytest.mark.parametrize(
    ("user", "key", "message"),
    [("demo", "WRON-GKEY-WRON-GKEY-0000", "Invalid API Key!"), ("nobody", KEY, "Invalid User!")],
)
def test_it_raises_auth_for_bad_credentials(fake_provider, user, key, message):
    client = GsmFusionClient(fake_provider.base_url, user, key)

    error = error_of(client.list_services)

    assert (error.kind, error.message) == (ProviderError.AUTH, message)


def test_it_classifies_a_read_timeout_as_unknown_outcome(make_fake_provider):
    fake = make_fake_provider(timeout_rate=1, latency=0)
    client = GsmFusionClient(fake.base_url, "demo", KEY, read_timeout=0.1)

    error = error_of(client.place_order, IMEI, 1739)

    assert error.kind == ProviderError.UNKNOWN_OUTCOME
    assert error.message.startswith("No answer in time: ")
    assert not error.kind == ProviderError.TRANSIENT
    assert fake.stats()["orders_created"] == 1


def test_it_classifies_the_fakes_503_as_transient(make_fake_provider):
    fake = make_fake_provider(fail_rate=1)
    client = GsmFusionClient(fake.base_url, "demo", KEY)

    error = error_of(client.place_order, IMEI, 1739)

    assert (error.kind, error.status_code, error.message) == (
        ProviderError.TRANSIENT,
        503,
        "HTTP 503: try again later",
    )
    assert error.kind == ProviderError.TRANSIENT
    assert fake.stats()["calls"] == {"placeorder": 1}  # not retried by the client


def test_it_classifies_http_429_as_transient(make_fake_provider):
    fake = make_fake_provider(max_inflight=0)
    client = GsmFusionClient(fake.base_url, "demo", KEY)

    error = error_of(client.place_order, IMEI, 1739)

    assert (error.kind, error.status_code) == (ProviderError.TRANSIENT, 429)
    assert fake.stats()["orders_created"] == 0


def test_it_classifies_a_refused_connection_as_transient():
    with socket.socket() as sock:  # a port nobody listens on once this socket closes
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = GsmFusionClient(f"http://127.0.0.1:{port}", "demo", KEY)

    error = error_of(client.place_order, IMEI, 1739)

    assert error.kind == ProviderError.TRANSIENT
    assert error.message.startswith("Could not connect: ")
    assert "Connection refused" in error.message


# -- against a scripted server ---------------------------------------------------------------


def test_it_posts_form_encoded_credentials_and_parameters(scripted):
    server, client = scripted((200, provider_sample("placeorder_success")))

    client.place_order("355473496054560", 1739)

    assert server.requests == [
        (
            "/gsmfusion_api/index.php",
            "application/x-www-form-urlencoded",
            {
                "apiKey": [KEY],
                "userId": ["demo"],
                "action": ["placeorder"],
                "imei": ["355473496054560"],
                "networkId": ["1739"],
            },
        )
    ]


def test_it_classifies_a_503_as_transient(scripted):
    _, client = scripted((503, "<html>busy</html>"))

    error = error_of(client.place_order, IMEI, 1739)

    assert (error.kind, error.status_code, error.raw) == (
        ProviderError.TRANSIENT,
        503,
        "<html>busy</html>",
    )


@pytest.mark.parametrize("status", [502, 504])
def test_it_classifies_a_gateway_error_on_placeorder_as_unknown_outcome(scripted, status):
    server, client = scripted((status, "<html>Bad Gateway</html>"))

    error = error_of(client.place_order, IMEI, 1739)

    assert (error.kind, error.status_code, error.message, error.raw) == (
        ProviderError.UNKNOWN_OUTCOME,
        status,
        f"HTTP {status}: a gateway lost the provider's answer; the order may exist",
        "<html>Bad Gateway</html>",
    )
    assert not error.kind == ProviderError.TRANSIENT
    assert len(server.requests) == 1


@pytest.mark.parametrize("status", [502, 504])
def test_it_classifies_a_gateway_error_on_a_read_as_transient(scripted, status):
    _, client = scripted((status, ""))

    error = error_of(client.order_statuses, [15562209])

    assert (error.kind, error.message) == (
        ProviderError.TRANSIENT,
        f"HTTP {status}: try again later",
    )


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (404, "HTTP 404"),
        (301, "HTTP 301 redirect: the base URL is wrong (http instead of https?)"),
    ],
)
def test_it_classifies_other_http_statuses_as_permanent(scripted, status, message):
    server, client = scripted((status, ""))

    error = error_of(client.place_order, IMEI, 1739)

    assert (error.kind, error.status_code, error.message) == (
        ProviderError.PERMANENT,
        status,
        message,
    )
    assert len(server.requests) == 1  # the redirect was not followed


def test_it_classifies_a_server_error_on_placeorder_as_unknown_outcome(scripted):
    server, client = scripted((500, ""))

    error = error_of(client.place_order, IMEI, 1739)

    assert (error.kind, error.status_code, error.message) == (
        ProviderError.UNKNOWN_OUTCOME,
        500,
        "HTTP 500: the provider failed while placing it; the order may exist",
    )
    assert len(server.requests) == 1


def test_it_classifies_a_server_error_on_a_read_as_permanent(scripted):
    server, client = scripted((500, ""))

    error = error_of(client.order_statuses, [15562209])

    assert (error.kind, error.message) == (ProviderError.PERMANENT, "HTTP 500")


def test_it_classifies_a_dropped_connection_as_unknown_outcome_and_does_not_resend(scripted):
    server, client = scripted("drop", (200, provider_sample("placeorder_success")))

    error = error_of(client.place_order, IMEI, 1739)

    assert error.kind == ProviderError.UNKNOWN_OUTCOME
    assert error.message.startswith("Connection lost during the call: ")
    assert len(server.requests) == 1


def test_it_classifies_an_unreadable_placeorder_answer_as_unknown_outcome(scripted):
    _, client = scripted((200, "<html>Fatal error</html"))

    error = error_of(client.place_order, IMEI, 1739)

    assert error.kind == ProviderError.UNKNOWN_OUTCOME
    assert error.message.startswith("Unreadable placeorder answer (not XML")
    assert error.raw == "<html>Fatal error</html"


def test_it_classifies_an_unreadable_status_answer_as_permanent(scripted):
    _, client = scripted((200, provider_sample("placeorder_truncated")))

    error = error_of(client.order_statuses, [15562213])

    assert error.kind == ProviderError.PERMANENT
    assert error.message.startswith("Unreadable getimeis answer: not XML")


def test_it_raises_a_root_error_of_getimeis(scripted):
    _, client = scripted((200, provider_sample("error_other")))

    error = error_of(client.order_statuses, [15562213])

    assert (error.kind, error.message) == (
        ProviderError.PERMANENT,
        "Not enough credits, please recharge!",
    )


def test_it_returns_only_the_orders_asked_for(scripted):
    server, client = scripted((200, provider_sample("getimeis_many")))

    orders = client.order_statuses([15562211, 15562209, 404])

    assert [o.remote_id for o in orders] == [15562209, 15562211]
    assert server.requests[0][2]["orderIds"] == ["15562211,15562209,404"]


# -- over TLS --------------------------------------------------------------------------------


class TLSServer:
    """A loopback https server that reads one request per connection, then answers with bytes
    that are not TLS: the client's TLS layer fails while reading the answer."""

    def __init__(self, cert, key):
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert, key)
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.requests = []
        threading.Thread(target=self.serve, daemon=True).start()

    @property
    def base_url(self):
        return f"https://127.0.0.1:{self.sock.getsockname()[1]}"

    def serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return  # closed
            with conn:
                try:
                    tls = self.context.wrap_socket(conn, server_side=True)
                except (ssl.SSLError, OSError):
                    continue  # the client refused our certificate: nothing was sent
                self.requests.append(self.read_request(tls))
                with socket.socket(fileno=os.dup(tls.fileno())) as raw:
                    raw.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")

    @staticmethod
    def read_request(tls):
        data = b""
        while b"\r\n\r\n" not in data:
            data += tls.recv(65536)
        head, _, body = data.partition(b"\r\n\r\n")
        length = int(re.search(rb"Content-Length: *([0-9]+)", head, re.IGNORECASE)[1])
        while len(body) < length:
            body += tls.recv(65536)
        return parse_qs(body.decode())

    def close(self):
        self.sock.close()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1: (certificate file, key file)."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
        + ["-keyout", key, "-out", cert, "-subj", "/CN=127.0.0.1"]
        + ["-addext", "subjectAltName=IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )
    return str(cert), str(key)


@pytest.fixture
def tls_server(certificate):
    server = TLSServer(*certificate)
    yield server
    server.close()


def test_it_classifies_a_tls_error_while_reading_the_answer_as_unknown_outcome(
    tls_server, certificate
):
    client = GsmFusionClient(tls_server.base_url, "demo", KEY, read_timeout=2)
    client.session.trust_env = False  # REQUESTS_CA_BUNDLE would override `verify`
    client.session.verify = certificate[0]

    error = error_of(client.place_order, IMEI, 1739)

    assert [request["imei"] for request in tls_server.requests] == [[IMEI]]  # it was sent
    assert error.kind == ProviderError.UNKNOWN_OUTCOME
    assert error.message.startswith("Connection lost during the call: ")
    assert not error.kind == ProviderError.TRANSIENT


def test_it_classifies_a_failed_tls_handshake_as_transient_without_sending(tls_server):
    client = GsmFusionClient(tls_server.base_url, "demo", KEY, read_timeout=2)  # not trusted

    error = error_of(client.place_order, IMEI, 1739)

    assert tls_server.requests == []
    assert error.kind == ProviderError.TRANSIENT
    assert error.message.startswith("Could not connect: ")
    assert "CERTIFICATE_VERIFY_FAILED" in error.message
