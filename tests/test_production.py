"""The README's production install, run for real: migrate, collectstatic, createsuperuser,
gunicorn with its config and DEBUG off; every stylesheet and script the admin pages reference is
served, /health/ says only its status, /metrics answers the token, and gunicorn's access lines
are JSON.

Also: every model change has its migration.
"""

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin

import pytest
import requests
from django.conf import settings
from django.core.management import call_command

PASSWORD = "admin-pass-123"
TIMEOUT = 30  # seconds per request: generous, the machine may be busy with other tests

METRICS_TOKEN = secrets.token_urlsafe(32)

SETUP = """
from orders.models import Batch, Service
service = Service.objects.create(id=1739, title="Apple iPhone IMEI", price="0.08")
print(Batch.objects.create(service=service, state=Batch.State.RUNNING).pk)
"""


class Assets(HTMLParser):
    """The URLs of a page's <link href> and <script src>."""

    def __init__(self):
        super().__init__()
        self.urls = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "link" and attrs.get("href"):
            self.urls.append(attrs["href"])
        elif tag == "script" and attrs.get("src"):
            self.urls.append(attrs["src"])


def assets_of(html):
    parser = Assets()
    parser.feed(html)
    return parser.urls


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def production_env(tmp_path):
    env = {
        **os.environ,
        "SECRET_KEY": secrets.token_urlsafe(64),
        "DEBUG": "0",
        "DEV_TOOLS": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'production.sqlite3'}",
        "STATIC_ROOT": str(tmp_path / "static"),
        "LOG_LEVEL": "WARNING",
        "LOG_FORMAT": "json",
        "METRICS_TOKEN": METRICS_TOKEN,
    }
    for name in ("REDIS_URL", "DJANGO_ALLOW_ASYNC_UNSAFE", "STATIC_HASHED"):
        env.pop(name, None)
    return env


def manage(env, *args):
    """`python manage.py *args` with `env`; its stdout."""
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture
def gunicorn(tmp_path):
    """Starts `gunicorn portal.wsgi` with `env` on a free loopback port; stopped at teardown."""
    started = []

    def start(env):
        port = free_port()
        command = [
            Path(sys.executable).parent / "gunicorn",
            *("-c", "python:portal.gunicorn_conf", "portal.wsgi", "-w", "2"),
        ]
        log = open(tmp_path / "gunicorn.log", "ab")  # closed at teardown
        process = subprocess.Popen(
            [*command, "-b", f"127.0.0.1:{port}"],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        started.append((process, log))
        base_url = f"http://127.0.0.1:{port}"
        wait_until_serving(base_url, process, tmp_path / "gunicorn.log")
        return base_url

    yield start
    for process, log in started:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
        log.close()


def wait_until_serving(base_url, process, log_path, timeout=60):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if process.poll() is not None:
            pytest.fail(f"gunicorn exited:\n{log_path.read_text()}")
        try:
            requests.get(f"{base_url}/admin/login/", timeout=TIMEOUT)
            return
        except (requests.ConnectionError, requests.Timeout):
            time.sleep(0.2)
    pytest.fail(f"gunicorn did not answer in {timeout} s:\n{log_path.read_text()}")


def log_in(session, base_url):
    login_url = f"{base_url}/admin/login/?next=/admin/"
    page = session.get(login_url, timeout=TIMEOUT)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    form = {"csrfmiddlewaretoken": token, "username": "admin", "password": PASSWORD}
    answer = session.post(login_url, form, headers={"Referer": login_url}, timeout=TIMEOUT)
    # STAFF_2FA is on without DEBUG: the admin sets up an authenticator first.
    assert answer.url == f"{base_url}/admin/2fa/setup/?next=/admin/", answer.text
    answer = second_factor(session, answer)
    assert answer.url == f"{base_url}/admin/", answer.text
    return page


def second_factor(session, setup_page):
    """Confirm the setup page's TOTP key with its current code, as an authenticator app would."""
    from django_otp.oath import totp

    key = re.search(r'id="twofactor-key">([0-9a-f]+)<', setup_page.text).group(1)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', setup_page.text).group(1)
    form = {"csrfmiddlewaretoken": token, "token": f"{totp(bytes.fromhex(key)):06d}"}
    answer = session.post(
        setup_page.url, form, headers={"Referer": setup_page.url}, timeout=TIMEOUT
    )
    assert "Your recovery codes" in answer.text, answer.text[:500]
    return session.get(answer.url.split("/admin/")[0] + "/admin/", timeout=TIMEOUT)


@pytest.mark.cluster
def test_the_readme_production_install_serves_every_admin_asset(tmp_path, gunicorn):
    env = production_env(tmp_path)
    manage(env, "migrate", "--noinput")
    manage(env, "collectstatic", "--noinput")
    superuser = {"DJANGO_SUPERUSER_PASSWORD": PASSWORD, "DJANGO_SUPERUSER_EMAIL": "a@example.com"}
    manage({**env, **superuser}, "createsuperuser", "--noinput", "--username", "admin")
    batch_id = manage(env, "shell", "--no-imports", "-c", SETUP).strip()
    base_url = gunicorn(env)
    session = requests.Session()
    session.trust_env = False  # no proxy from the environment: loopback only

    pages = {"login": log_in(session, base_url)}
    for name, path in [
        ("index", "/admin/"),
        ("batch", f"/admin/orders/batch/{batch_id}/change/"),
        ("orders", "/admin/orders/order/"),
    ]:
        pages[name] = session.get(base_url + path, timeout=TIMEOUT)
        assert pages[name].status_code == 200, (name, pages[name].text[:500])

    for name, page in pages.items():
        urls = assets_of(page.text)
        assert urls, name
        for url in urls:
            asset = session.get(urljoin(page.url, url), timeout=TIMEOUT)
            assert (asset.status_code, bool(asset.content)) == (200, True), (name, url)
    # Hashed by collectstatic's manifest, so it can be cached for ever.
    batch_assets = " ".join(assets_of(pages["batch"].text))
    assert re.search(r"/static/portal/batch_progress\.[0-9a-f]{12}\.js", batch_assets)

    # No cluster runs here: down, and that is all a stranger learns.
    health = requests.get(f"{base_url}/health/", timeout=TIMEOUT)
    assert (health.status_code, health.json()) == (503, {"status": "down"})
    bearer = {"Authorization": f"Bearer {METRICS_TOKEN}"}
    metrics = session.get(f"{base_url}/metrics", headers=bearer, timeout=TIMEOUT)
    assert metrics.status_code == 200
    assert "portal_queued_orders 0.0" in metrics.text
    assert requests.get(f"{base_url}/metrics", timeout=TIMEOUT).status_code == 401
    access = [
        json.loads(line)
        for line in (tmp_path / "gunicorn.log").read_text().splitlines()
        if '"gunicorn.access"' in line
    ]
    assert {"path": "/health/", "status": 503} in [
        {"path": a["path"], "status": a["status"]} for a in access
    ]


def test_every_model_change_has_its_migration(db):
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)
