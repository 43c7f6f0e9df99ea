"""The proxy of `drill chaos` forwards, resets live connections and refuses new ones."""

import socket
import threading

import pytest

from devtools import chaosproxy
from devtools.chaosproxy import Chaos, ChaosProxy
from devtools.faultdrills.chaos import with_port


@pytest.fixture
def echo_port():
    """A loopback echo server's port: what the proxy stands in front of."""
    listener = socket.create_server(("127.0.0.1", 0))
    stopping = threading.Event()

    def echo(conn):
        with conn:
            try:
                while data := conn.recv(1024):
                    conn.sendall(data)
            except ConnectionResetError:
                pass  # what a cut does

    def serve():
        while not stopping.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=echo, args=(conn,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    yield listener.getsockname()[1]
    stopping.set()
    listener.close()


@pytest.fixture
def proxy(echo_port, monkeypatch):
    monkeypatch.setattr(chaosproxy, "POLL_SECONDS", 0.01)  # a cut reaches the pumps at once
    proxy = ChaosProxy(echo_port).start()
    yield proxy
    proxy.stop()


def connect(proxy):
    return socket.create_connection(("127.0.0.1", proxy.port), timeout=2)


def test_it_forwards_bytes_both_ways(proxy):
    with connect(proxy) as conn:
        conn.sendall(b"SELECT 1")

        assert conn.recv(1024) == b"SELECT 1"


def test_a_cut_resets_every_live_connection(proxy):
    first, second = connect(proxy), connect(proxy)
    first.sendall(b"x"), second.sendall(b"y")
    assert (first.recv(1), second.recv(1)) == (b"x", b"y")

    proxy.cut()

    for conn in (first, second):
        with pytest.raises(ConnectionResetError), conn:
            conn.recv(1)
    assert proxy.cuts == 1


def test_it_refuses_new_connections_for_a_while_then_accepts_them_again(proxy):
    listening_again = proxy.refuse(0.05)

    with pytest.raises(ConnectionRefusedError):
        connect(proxy)
    listening_again.join(5)

    with connect(proxy) as conn:
        conn.sendall(b"back")
        assert conn.recv(1024) == b"back"


def test_the_schedule_cuts_within_its_bounds_and_stops(proxy):
    chaos = Chaos([proxy], cut_every=(0.01, 0.02), refuse_share=0.5, refuse_for=(0.01, 0.01))

    chaos.run_for(0.2).wait()

    cuts = [at for at, what in chaos.events if what == "cut"]
    assert 3 <= len(cuts) == proxy.cuts
    assert proxy.refusals == len(chaos.events) - len(cuts)
    with connect(proxy) as conn:
        conn.sendall(b"ok")
        assert conn.recv(1024) == b"ok"


def test_the_cluster_reaches_the_proxy_with_the_same_credentials_and_database():
    assert (
        with_port("postgres://postgres:pw@127.0.0.1:5432/h_drills", 40001)
        == "postgres://postgres:pw@127.0.0.1:40001/h_drills"
    )
    assert with_port("redis://127.0.0.1:6379/11", 40002) == "redis://127.0.0.1:40002/11"
