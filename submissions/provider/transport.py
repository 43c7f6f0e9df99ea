"""Name resolution bounded by the connect timeout, for the provider client.

urllib3 applies the connect timeout to connecting, not to `getaddrinfo`: a slow resolver could
hold a placeorder call for minutes, past its order's lease. Here the name is resolved in a
helper thread given at most the connect timeout; then each address is connected to as usual
(the Host header, SNI and certificate checks still use the name). A resolution that times out
raises urllib3's ConnectTimeoutError: nothing was sent, so the client classes it as retryable.
"""

import ipaddress
import socket
import threading

from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError


def resolve(host, port, timeout):
    """The addresses of `host`, or TimeoutError when the resolver takes over `timeout` s."""
    answer = {}

    def lookup():
        try:
            answer["infos"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            answer["error"] = exc

    thread = threading.Thread(target=lookup, name=f"resolve {host}", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise TimeoutError(f"resolving {host} took over {timeout} s")
    if "error" in answer:
        raise answer["error"]
    return list(dict.fromkeys(info[4][0] for info in answer["infos"]))


def _is_address(host):
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


class BoundedResolution:
    """Mixin for urllib3 connections: resolve within the connect timeout, then connect."""

    def _new_conn(self):
        name = self._dns_host
        if _is_address(name) or not isinstance(self.timeout, int | float):
            return super()._new_conn()
        try:
            addresses = resolve(name, self.port, self.timeout)
        except TimeoutError as exc:
            raise ConnectTimeoutError(self, f"Could not resolve {name}: {exc}") from exc
        except socket.gaierror as exc:
            raise NameResolutionError(name, self, exc) from exc
        error = None
        for address in addresses:
            self._dns_host = address  # only for the socket; restored before TLS and headers
            try:
                return super()._new_conn()
            except OSError as exc:  # urllib3's connection errors are OSErrors too
                error = exc
            finally:
                self._dns_host = name
        raise error


class BoundedHTTPConnection(BoundedResolution, HTTPConnection):
    pass


class BoundedHTTPSConnection(BoundedResolution, HTTPSConnection):
    pass


class BoundedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = BoundedHTTPConnection


class BoundedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = BoundedHTTPSConnection
