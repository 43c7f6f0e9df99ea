"""A TCP proxy on loopback that breaks connections on purpose, for `manage.py drill chaos`.

`ChaosProxy(port)` listens on 127.0.0.1 and forwards every connection to 127.0.0.1:port (a
PostgreSQL or Redis server). `cut()` resets every live connection, on both sides, as a dead
network path or a restarted server does: SO_LINGER 0, then close, so the peers get an RST, not
an orderly FIN. `refuse(seconds)` closes the listening socket for that long, so new
connections are refused (ECONNREFUSED), then listens on the same port again. `Chaos` runs
that schedule on several proxies at once from a background thread: a cut every 4-10 s, and
now and then a refusal of a few seconds. Loopback only; plain sockets and threads.
"""

import logging
import random
import select
import socket
import struct
import threading
import time

log = logging.getLogger(__name__)

CHUNK = 65536
POLL_SECONDS = 0.1  # how often a connection's pump looks at its cut flag
RST = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends an RST


class ChaosProxy:
    """Forwards 127.0.0.1:`self.port` to 127.0.0.1:`target_port`; `cut()` and `refuse()`."""

    def __init__(self, target_port, target_host="127.0.0.1"):
        if target_host not in ("127.0.0.1", "localhost"):
            raise ValueError("The chaos proxy forwards to loopback only")
        self.target = (target_host, target_port)
        self.port = 0
        self.cuts = self.refusals = self.connections = self.resets = 0
        self._generation = 0  # a pump whose generation is older than this resets its pair
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._listener = self._listen()
        self.port = self._listener.getsockname()[1]
        self._accepting = threading.Thread(target=self._accept_loop, daemon=True)

    def start(self):
        self._accepting.start()
        return self

    def stop(self):
        self._stopping.set()
        self.cut()
        self._close_listener()

    def cut(self):
        """Reset every live connection (the pumps do it within POLL_SECONDS)."""
        with self._lock:
            self._generation += 1
            self.cuts += 1

    def refuse(self, seconds):
        """Refuse new connections from now for `seconds` (the listener closed), then listen.

        Returns the timer that listens again: `join()` it to wait for that.
        """
        with self._lock:
            self.refusals += 1
        self._close_listener()
        timer = threading.Timer(seconds, self._reopen)
        timer.daemon = True
        timer.start()
        return timer

    def _reopen(self):
        with self._lock:
            if not self._stopping.is_set() and self._listener is None:
                self._listener = self._listen()

    # -- plumbing ------------------------------------------------------------------------------

    def _listen(self):
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        listener.settimeout(POLL_SECONDS)
        return listener

    def _close_listener(self):
        with self._lock:
            listener, self._listener = self._listener, None
        if listener is not None:
            # Linux: shutdown() stops a listening socket at once, even while the accepting
            # thread is still inside poll() on it (a bare close() waits for that call).
            try:
                listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            listener.close()

    def _accept_loop(self):
        while not self._stopping.is_set():
            listener = self._listener
            if listener is None:
                time.sleep(POLL_SECONDS)
                continue
            try:
                client, _ = listener.accept()
            except (TimeoutError, OSError):
                continue  # a poll timeout, or the listener closed by refuse()
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client):
        try:
            server = socket.create_connection(self.target, timeout=5)
        except OSError:
            _reset(client)  # the real server refuses: so does the proxy
            return
        with self._lock:
            generation = self._generation
            self.connections += 1
        if _pump(client, server, lambda: self._generation != generation):
            with self._lock:
                self.resets += 1

    def describe(self):
        return {"connections": self.connections, "reset": self.resets, "cuts": self.cuts}


def _pump(client, server, is_cut):
    """Copy bytes both ways until a side closes (orderly) or the proxy cuts (RST both).

    Returns True when the connection was reset.
    """
    peers = {client: server, server: client}
    try:
        while not is_cut():
            readable, _, _ = select.select(list(peers), [], [], POLL_SECONDS)
            for sock in readable:
                data = sock.recv(CHUNK)
                if not data:
                    client.close()
                    server.close()
                    return False
                peers[sock].sendall(data)
    except OSError:
        pass
    _reset(client)
    _reset(server)
    return True


def _reset(sock):
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, RST)
    except OSError:
        pass
    sock.close()


class Chaos:
    """Cuts every proxy's connections every 4-10 s; sometimes refuses new ones for 1-5 s.

    `run_for(seconds)` starts the schedule in a background thread; `stop()` ends it early.
    `events` lists what it did, as (seconds from start, "cut" | "refuse N s").
    """

    def __init__(self, proxies, seed=20, cut_every=(4.0, 10.0), refuse_share=0.3,
                 refuse_for=(1.0, 5.0)):  # fmt: skip
        self.proxies = proxies
        self.random = random.Random(seed)
        self.cut_every, self.refuse_share, self.refuse_for = cut_every, refuse_share, refuse_for
        self.events = []
        self._stopping = threading.Event()
        self._thread = None

    def run_for(self, seconds):
        self._thread = threading.Thread(target=self._run, args=(seconds,), daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()

    def wait(self):
        self._thread.join()

    def _run(self, seconds):
        started = time.monotonic()
        end = started + seconds
        while not self._stopping.wait(self.random.uniform(*self.cut_every)):
            if time.monotonic() >= end:
                return
            for proxy in self.proxies:
                proxy.cut()
            self.events.append((round(time.monotonic() - started, 1), "cut"))
            if self.random.random() < self.refuse_share:
                self._refuse(started)

    def _refuse(self, started):
        seconds = round(self.random.uniform(*self.refuse_for), 1)
        self.events.append((round(time.monotonic() - started, 1), f"refuse {seconds} s"))
        for proxy in self.proxies:
            proxy.refuse(seconds)
