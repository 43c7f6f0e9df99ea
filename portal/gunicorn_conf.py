"""gunicorn's settings for the portal: `gunicorn -c python:portal.gunicorn_conf portal.wsgi`.

Its error log and one access line per request go to stderr through the portal's own logging
(settings.LOGGING): JSON objects with LOG_FORMAT=json, ISO timestamps in UTC either way. The
bind address and the worker count stay on the command line (deploy/ and the README).
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

from django.conf import settings  # noqa: E402

logconfig_dict = settings.LOGGING
# One line per request: the path without its query string (a search for IMEIs travels there).
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms "%(a)s"'
# A request in progress at SIGTERM (an import's confirm) gets this long to finish.
graceful_timeout = 30
