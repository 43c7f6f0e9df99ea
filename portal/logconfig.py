"""The log formats, shared by Django (settings.LOGGING) and gunicorn (portal/gunicorn_conf.py).

Timestamps are ISO 8601 in UTC with the offset written out (`2026-12-05T07:56:09.123+00:00`),
so lines from hosts in other time zones sort and compare. With LOG_FORMAT=json gunicorn's
access lines carry the request's fields as keys; the query string is left out, since a search
for IMEIs travels in it.
"""

import logging
from datetime import UTC, datetime

from pythonjsonlogger.json import JsonFormatter as BaseJsonFormatter

# gunicorn's access-log atoms kept as JSON keys (see gunicorn.glogging.Logger.atoms).
ACCESS_FIELDS = {
    "h": "remote_addr",
    "m": "method",
    "U": "path",
    "s": "status",
    "B": "bytes",
    "M": "duration_ms",
    "a": "user_agent",
}


class IsoTimeMixin:
    def formatTime(self, record, datefmt=None):  # noqa: N802 (logging's name)
        return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")


class PlainFormatter(IsoTimeMixin, logging.Formatter):
    pass


class JsonFormatter(IsoTimeMixin, BaseJsonFormatter):
    def add_fields(self, log_data, record, message_dict):
        super().add_fields(log_data, record, message_dict)
        if record.name == "gunicorn.access" and isinstance(record.args, dict):
            for atom, key in ACCESS_FIELDS.items():
                value = record.args.get(atom)
                if value not in (None, "-"):
                    log_data[key] = int(value) if key == "status" else value


def logging_config(log_format, level, queue_level):
    line = "%(asctime)s %(levelname)s %(name)s %(message)s"
    # gunicorn's own loggers do not propagate: they get the same handler explicitly.
    gunicorn = {"handlers": ["console"], "level": "INFO", "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "plain": {"()": "portal.logconfig.PlainFormatter", "format": line},
            "json": {
                "()": "portal.logconfig.JsonFormatter",
                "format": line,
                "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
            },
        },
        "handlers": {
            "console": {"class": "logging.StreamHandler", "formatter": log_format},
            "mail_admins": {
                "class": "django.utils.log.AdminEmailHandler",
                "level": "ERROR",
                "filters": ["require_debug_false"],
            },
        },
        "filters": {"require_debug_false": {"()": "django.utils.log.RequireDebugFalse"}},
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # Replaces Django's default (its console handler only speaks under DEBUG): errors,
            # an unhandled exception in a request above all, go to ADMINS by mail as well.
            "django": {"handlers": ["mail_admins"], "level": "INFO"},
            "urllib3": {"level": "WARNING"},
            "axes": {"level": "WARNING"},
            "django-q": {"level": queue_level},
            "gunicorn.error": gunicorn,
            "gunicorn.access": gunicorn,
        },
    }
