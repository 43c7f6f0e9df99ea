"""Logs an operator can parse: with LOG_FORMAT=json gunicorn's error and access lines are JSON
objects like the portal's own, every timestamp carries its offset, and no query string (where
IMEI searches travel) reaches the access line. The 503 of /health/ is a warning:
tests/test_health.py."""

import json
import os
import re
import subprocess
import sys

from django.conf import settings

# gunicorn's own Logger, configured from portal/gunicorn_conf.py, writes one error line and
# the access line of one request.
GUNICORN_LINES = """
import datetime
from gunicorn.config import Config
from gunicorn.glogging import Logger
import portal.gunicorn_conf as conf

cfg = Config()
for name in ("logconfig_dict", "access_log_format"):
    cfg.set(name, getattr(conf, name))
log = Logger(cfg)
log.error("Worker (pid:%s) was sent SIGTERM!", 4242)

class Response:
    status, sent, headers = "503 Service Unavailable", 20, []

class Request:
    headers = [("USER-AGENT", "kube-probe/1.30")]

environ = {
    "REQUEST_METHOD": "GET", "RAW_URI": "/admin/orders/order/?q=356938035643809",
    "PATH_INFO": "/admin/orders/order/", "QUERY_STRING": "q=356938035643809",
    "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "10.0.0.7", "HTTP_USER_AGENT": "kube-probe/1.30",
}
log.access(Response(), Request(), environ, datetime.timedelta(milliseconds=12))
"""
ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00")


def gunicorn_log(log_format):
    result = subprocess.run(
        [sys.executable, "-c", GUNICORN_LINES],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings", "LOG_FORMAT": log_format},
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stderr.splitlines()


def test_gunicorn_error_and_access_lines_are_json_objects_with_an_offset():
    error, access = [json.loads(line) for line in gunicorn_log("json")]

    assert (error["level"], error["logger"], error["message"]) == (
        "ERROR",
        "gunicorn.error",
        "Worker (pid:4242) was sent SIGTERM!",
    )
    assert ISO_UTC.fullmatch(error["time"]) and ISO_UTC.fullmatch(access["time"])
    fields = {k: access[k] for k in ("logger", "method", "path", "status", "duration_ms")}
    assert fields == {
        "logger": "gunicorn.access",
        "method": "GET",
        "path": "/admin/orders/order/",
        "status": 503,
        "duration_ms": 12,
    }
    assert (access["remote_addr"], access["user_agent"]) == ("10.0.0.7", "kube-probe/1.30")
    assert "356938035643809" not in json.dumps(access)


def test_plain_lines_carry_the_offset_too_and_no_query_string():
    error, access = gunicorn_log("plain")

    assert re.fullmatch(rf"{ISO_UTC.pattern} ERROR gunicorn.error Worker \(pid:4242\).*", error)
    assert access.endswith(
        'INFO gunicorn.access 10.0.0.7 "GET /admin/orders/order/ HTTP/1.1" 503 20 12ms '
        '"kube-probe/1.30"'
    )
