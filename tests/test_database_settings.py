"""The database settings that money state depends on: durable commits on SQLite, bounded lock
waits on PostgreSQL (docs/architecture.md, "Exactly-once invariants")."""

import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.db import connection

sqlite_only = pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite pragmas")
postgresql_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL")


def setting_in_subprocess(expression, **env):
    """`expression` evaluated on django.conf.settings in a fresh process with `env` set."""
    code = f"import django; django.setup(); from django.conf import settings; print({expression})"
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings", **env},
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


def pragma(name):
    with connection.cursor() as cursor:
        cursor.execute(f"PRAGMA {name}")
        return cursor.fetchone()[0]


@sqlite_only
def test_sqlite_commits_are_durable_in_wal_mode(db):
    assert (pragma("journal_mode"), pragma("synchronous")) == ("wal", 2)  # 2 = FULL


def show(name):
    with connection.cursor() as cursor:
        cursor.execute(f"SHOW {name}")
        return cursor.fetchone()[0]


@postgresql_only
def test_postgresql_bounds_lock_waits_and_statements(db):
    assert (show("lock_timeout"), show("statement_timeout")) == ("5s", "1min")


def test_the_postgresql_timeouts_come_from_the_environment():
    options = setting_in_subprocess(
        "settings.DATABASES['default']['OPTIONS']['options']",
        DATABASE_URL="postgres://portal@127.0.0.1:5432/portal?options=-c%20work_mem%3D8MB",
        DATABASE_LOCK_TIMEOUT_MS="250",
        DATABASE_STATEMENT_TIMEOUT_MS="0",
    )

    assert options == "-c work_mem=8MB -c lock_timeout=250 -c statement_timeout=0"


def test_a_bad_timeout_names_the_variable():
    with pytest.raises(subprocess.CalledProcessError) as caught:
        setting_in_subprocess(
            "1", DATABASE_URL="postgres://portal@127.0.0.1/portal", DATABASE_LOCK_TIMEOUT_MS="5s"
        )

    assert "DATABASE_LOCK_TIMEOUT_MS must be a whole number, not '5s'" in caught.value.stderr
