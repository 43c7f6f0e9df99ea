"""Housekeeping: what piles up if nobody deletes it. Hourly (the "Housekeeping" schedule) and
`manage.py cleanup` by hand.

- Uploads never confirmed: an import keeps its file in IMPORT_TMP_DIR between its check and its
  confirm (`import-<32 hex>`, renamed `.claimed` once confirmed and read). Files of ours older
  than CLEANUP_UPLOAD_HOURS are deleted; nothing else in the directory (it may be /tmp) is
  touched. A confirm after that says "already confirmed or expired" and creates nothing.
- django-q task results (successes and failures) older than CLEANUP_TASK_DAYS.
- Closed alerts older than CLEANUP_ALERT_DAYS; an open alert is never deleted.

Rows go in chunks of CHUNK, each its own short transaction, so a first run over a year of
rows does not hold one long lock.
"""

import logging
import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.utils import timezone
from django_q.models import Task

from .models import Alert

log = logging.getLogger(__name__)

UPLOAD_NAME = re.compile(r"import-[0-9a-f]{32}(\.claimed)?")
CHUNK = 5_000


@dataclass(frozen=True)
class Cleaned:
    uploads: int
    tasks: int
    alerts: int


def run(now=None):
    now = now or timezone.now()
    cleaned = Cleaned(
        uploads=delete_old_uploads(now),
        tasks=delete_in_chunks(
            Task.objects.filter(stopped__lt=now - timedelta(days=settings.CLEANUP_TASK_DAYS))
        ),
        alerts=delete_in_chunks(
            Alert.objects.filter(closed_at__lt=now - timedelta(days=settings.CLEANUP_ALERT_DAYS))
        ),
    )
    if cleaned != Cleaned(0, 0, 0):
        log.info(
            "Housekeeping deleted %d uploads, %d task results, %d alerts",
            cleaned.uploads,
            cleaned.tasks,
            cleaned.alerts,
        )
    return cleaned


def delete_old_uploads(now):
    cutoff = now.timestamp() - settings.CLEANUP_UPLOAD_HOURS * 3600
    deleted = 0
    for path in Path(settings.IMPORT_TMP_DIR).iterdir():
        if not UPLOAD_NAME.fullmatch(path.name):
            continue
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
                deleted += 1
        except FileNotFoundError:
            pass  # confirmed (renamed) or deleted by another host meanwhile
    return deleted


def delete_in_chunks(queryset):
    deleted = 0
    while True:
        pks = list(queryset.order_by().values_list("pk", flat=True)[:CHUNK])
        if not pks:
            return deleted
        deleted += queryset.model.objects.filter(pk__in=pks).delete()[0]
