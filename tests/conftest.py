"""Test-wide rules: no real network, and the shared fixtures.

Fixtures live in tests/fixtures/, one module per subject, loaded here as plugins.
"""

import ipaddress
import socket

import pytest

pytest_plugins = [
    "tests.fixtures.factories",
    "tests.fixtures.clock",
    "tests.fixtures.engine",
    "tests.fixtures.provider",
    "tests.fixtures.cluster",
    "tests.fixtures.browser",
    "tests.fixtures.smtp",
]

_real_connect = socket.socket.connect
_real_create_connection = socket.create_connection


def _is_loopback(address):
    host = address[0] if isinstance(address, tuple) else address
    if isinstance(host, bytes):
        host = host.decode()
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name to resolve: not loopback by definition here


def _guarded_connect(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address):
        raise OSError(f"Tests must not reach the network: connect to {address!r} refused")
    return _real_connect(self, address)


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def no_staff_2fa(settings):
    """Two-factor login is off (as STAFF_2FA=off), except where tests/test_twofactor.py
    turns it on."""
    settings.STAFF_2FA = False


@pytest.fixture(autouse=True)
def empty_cache():
    """Pages cache a few figures (filter values, finished batches' charts): not across tests."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Any connection outside loopback fails: the fake provider runs on 127.0.0.1."""
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)


@pytest.fixture(autouse=True)
def plain_static_files(settings):
    """Static files as in development: the tests never run collectstatic, whose manifest the
    hashed storage needs (tests/test_production.py runs it, in processes of its own)."""
    plain = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    settings.STORAGES = {**settings.STORAGES, "staticfiles": plain}
    settings.WHITENOISE_AUTOREFRESH = True  # no STATIC_ROOT to scan: look files up per request
    settings.WHITENOISE_USE_FINDERS = True
