"""Settings an operations engineer relies on, read from the environment: no start without
SECRET_KEY, /health/ over plain HTTP, ADMINS and Sentry, the instance name.

portal/settings.py is executed afresh for each case (runpy, with the environment patched);
what needs a whole process (a management command, Sentry's global client) runs in one.
"""

import json
import os
import runpy
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

DEVELOPMENT_KEY = "django-insecure-development-key-set-SECRET_KEY"


def run_python(code, *, drop=(), **env):
    """`code` run with portal.settings in a fresh process; `drop` names env variables to unset."""
    environ = {**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings", **env}
    for name in ("SENTRY_DSN", "ADMINS", "INSTANCE_NAME", "Q_CLUSTER_NAME", "METRICS_PORT", *drop):
        if name not in env:
            environ.pop(name, None)
    return subprocess.run(
        [sys.executable, *code],
        env=environ,
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def settings_of(monkeypatch):
    """settings_of(*names, **env): {name: value} of portal/settings.py executed with `env`."""

    def read(*names, **env):
        for name in ("SENTRY_DSN", "ADMINS", "INSTANCE_NAME", "Q_CLUSTER_NAME", "METRICS_PORT"):
            monkeypatch.delenv(name, raising=False)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        module = runpy.run_path(str(settings.BASE_DIR / "portal" / "settings.py"))
        return {name: module[name] for name in names}

    return read


def test_with_debug_off_and_no_secret_key_it_refuses_to_start_naming_secret_key():
    result = run_python(["manage.py", "check"], drop=["SECRET_KEY"], DEBUG="0")

    assert result.returncode == 1
    assert "ImproperlyConfigured: SECRET_KEY must be set when DEBUG is off" in result.stderr


def test_the_development_key_serves_debug_only():
    code = ["-c", "from portal import settings; print(settings.SECRET_KEY)"]
    result = run_python(code, drop=["SECRET_KEY"], DEBUG="1")

    assert result.stdout.strip() == DEVELOPMENT_KEY


def test_behind_https_everything_redirects_but_the_probe_and_the_scrape(settings_of):
    values = settings_of(
        "SECURE_SSL_REDIRECT", "SECURE_REDIRECT_EXEMPT", SECURE_COOKIES="1", DEBUG="0"
    )

    assert values == {
        "SECURE_SSL_REDIRECT": True,
        "SECURE_REDIRECT_EXEMPT": ["^health/$", "^metrics$"],
    }


def test_admins_and_the_mail_sender_come_from_the_environment(settings_of):
    values = settings_of(
        "ADMINS",
        "SERVER_EMAIL",
        ADMINS="ops@example.com, dev@example.com",
        DEFAULT_FROM_EMAIL="portal@example.com",
    )

    assert values == {
        "ADMINS": [("ops@example.com", "ops@example.com"), ("dev@example.com", "dev@example.com")],
        "SERVER_EMAIL": "portal@example.com",
    }


def test_sentry_starts_with_a_dsn_and_scrubs_the_key_and_imeis_from_events():
    code = (
        "import json, django; django.setup(); import sentry_sdk; "
        "client = sentry_sdk.get_client(); from django.conf import settings; "
        "event = {'message': 'key ' + settings.GSM_FUSION_API_KEY + ' imei 356938035643809', "
        "'request': {'query_string': 'q=356938035643809'}}; "
        "print(json.dumps([client.is_active(), client.options['environment'], "
        "client.options['before_send'](event, {})]))"
    )
    result = run_python(
        ["-c", code], SENTRY_DSN="http://public@127.0.0.1:9/1", GSM_FUSION_API_KEY="K-123-SECRET"
    )

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [
        True,
        "production",
        {"message": "key [Filtered] imei [IMEI]", "request": {"query_string": "q=[IMEI]"}},
    ]


def test_without_a_dsn_sentry_stays_off():
    import sentry_sdk  # this process: the test settings, no SENTRY_DSN

    assert sentry_sdk.get_client().is_active() is False


@pytest.mark.parametrize(
    ("database_url", "name"),
    [
        ("postgres://portal@127.0.0.1:5432/h_ops_prod", "h_ops_prod"),
        ("sqlite:////srv/portal/db/portal.sqlite3", "portal"),
    ],
)
def test_the_cluster_and_the_cache_are_named_after_the_database(settings_of, database_url, name):
    values = settings_of("INSTANCE_NAME", "Q_CLUSTER", "CACHES", DATABASE_URL=database_url)

    assert values["INSTANCE_NAME"] == name
    assert values["Q_CLUSTER"]["name"] == name
    assert values["CACHES"]["default"]["KEY_PREFIX"] == name


def test_instance_name_names_both_when_set(settings_of):
    values = settings_of(
        "Q_CLUSTER", "CACHES", INSTANCE_NAME="portal-b", REDIS_URL="redis://127.0.0.1:6379/4"
    )

    assert (values["Q_CLUSTER"]["name"], values["Q_CLUSTER"]["redis"]) == (
        "portal-b",
        "redis://127.0.0.1:6379/4",
    )
    assert values["CACHES"]["default"]["KEY_PREFIX"] == "portal-b"


def test_django_q2s_own_cluster_name_passes_check_when_it_is_the_instance_name():
    # django-q2 reads Q_CLUSTER_NAME itself: any other name picks a queue of ALT_CLUSTERS.
    result = run_python(["manage.py", "check"], INSTANCE_NAME="portal-b", Q_CLUSTER_NAME="portal-b")

    assert result.returncode == 0, result.stderr


def test_another_q_cluster_name_stops_start_up_with_a_message_not_a_key_error(settings_of):
    with pytest.raises(ImproperlyConfigured) as raised:
        settings_of(INSTANCE_NAME="portal-b", Q_CLUSTER_NAME="other")

    assert str(raised.value) == (
        "Q_CLUSTER_NAME ('other') must be unset or equal INSTANCE_NAME ('portal-b'): "
        "set INSTANCE_NAME to name the cluster"
    )


def test_the_cluster_metrics_port_needs_the_multiprocess_directory(settings_of):
    with pytest.raises(ImproperlyConfigured, match="METRICS_PORT needs PROMETHEUS_MULTIPROC_DIR"):
        settings_of(METRICS_PORT="9101")
