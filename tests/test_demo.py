"""`make demo` runs `manage.py demo`: it must come up, print a login that works, and stop
everything it started."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from django.conf import settings


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def read_until(process, marker, timeout=60):
    lines = []
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        line = process.stdout.readline()
        lines.append(line)
        if marker in line:
            return lines
    raise AssertionError(f"{marker!r} never printed:\n{''.join(lines)}")


@pytest.mark.cluster
def test_the_demo_serves_the_admin_with_the_printed_login_and_stops_its_children(tmp_path):
    web_port, provider_port = free_port(), free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}",
        "GSM_FUSION_BASE_URL": "https://provider.invalid",  # the demo must not use it
        "DEMO_ADMIN_PASSWORD": "demo-pass-123",
        "DEBUG": "1",
    }
    command = [sys.executable, "manage.py", "demo", "--port", str(web_port)]
    command += ["--provider-port", str(provider_port)]
    demo = subprocess.Popen(
        command, cwd=settings.BASE_DIR, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        lines = read_until(demo, "Login:")
        assert "Login:    admin / demo-pass-123\n" in lines
        lines = read_until(demo, "Quit the server with")
        # Things go wrong in the demo, so failed orders can be re-submitted.
        assert "Faults:   the fake provider fails 4% of orders and rejects 3%: re-submit\n" in lines
        login = urllib.request.urlopen(f"http://127.0.0.1:{web_port}/admin/login/", timeout=10)
        assert login.status == 200
    finally:
        demo.send_signal(signal.SIGTERM)
        demo.wait(timeout=60)

    for port in (web_port, provider_port):
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
