"""The provider client's name resolution is bounded by its connect timeout."""

import socket
import threading

import pytest

from submissions.provider import GsmFusionClient, ProviderError
from tests.fixtures.factories import valid_imei


@pytest.fixture
def slow_resolver(monkeypatch):
    """`slow.provider.test` resolves (to loopback, where nothing listens) only once the test
    is over: a call that returns before then was bounded by its own timeout."""
    real = socket.getaddrinfo
    released = threading.Event()

    def getaddrinfo(host, *args, **kwargs):
        if host == "slow.provider.test":
            released.wait(30)
            host = "127.0.0.1"
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield
    released.set()


def test_a_slow_name_resolution_is_bounded_by_the_connect_timeout(slow_resolver):
    client = GsmFusionClient(
        "https://slow.provider.test", "demo", "KEY", connect_timeout=0.05, read_timeout=5
    )

    with pytest.raises(ProviderError) as raised:
        client.place_order(valid_imei(1), 1739)

    assert raised.value.kind == ProviderError.TRANSIENT  # nothing was sent
    assert (
        "Could not resolve slow.provider.test: resolving slow.provider.test took over 0.05 s"
        in (raised.value.message)
    )


def test_a_provider_named_by_host_name_is_still_reached(fake_provider):
    port = fake_provider.base_url.rsplit(":", 1)[1]
    client = GsmFusionClient(f"http://localhost:{port}", "demo", "DEMO-DEMO-DEMO-DEMO-DEMO")

    placed = client.place_order(valid_imei(1), 1739)

    assert (placed.remote_id, placed.status) == (15562209, "Pending")
    client.close()


def test_an_unknown_host_name_is_a_transient_connection_error(monkeypatch):
    def getaddrinfo(host, *args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    client = GsmFusionClient("https://nowhere.provider.test", "demo", "KEY", connect_timeout=1)

    with pytest.raises(ProviderError) as raised:
        client.place_order(valid_imei(1), 1739)

    assert raised.value.kind == ProviderError.TRANSIENT
    assert raised.value.message.startswith("Could not connect: ")
