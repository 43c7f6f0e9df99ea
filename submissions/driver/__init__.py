"""The driver: sends queued orders and polls their results.

`drive` runs one (the task), `enqueue` starts one in the background, `ensure` is the
schedule's safety net. The loop is in loop.py; each rule in a module of its own beside it.
"""

import logging

from django.conf import settings

from .. import health
from ..provider import GsmFusionClient
from . import claims, lease, reconcile
from .loop import Driver

log = logging.getLogger("submissions.driver")


def drive(deadline_seconds=None, client_factory=None, clock=None):
    """Run one driver if no other holds the lease; returns a summary (or None if busy)."""
    token = lease.acquire()
    if token is None:
        log.info("Another driver holds the lease; exiting")
        return None
    seconds = deadline_seconds or settings.DRIVER_SECONDS
    factory = client_factory or GsmFusionClient.from_settings
    return Driver(token, seconds, factory, clock=clock).run()


def enqueue():
    """Start a driver task (it exits at once if one is running). Successes are not saved."""
    from django_q.tasks import async_task

    return async_task("submissions.tasks.drive", q_options={"save": False})


def ensure():
    """The schedule's safety net: sweep dead leases, start a driver if work is left."""
    health.beat()
    swept = claims.sweep_expired()
    claims.cancel_stranded()
    claims.finish_batches()
    reconcile.run_inline(GsmFusionClient.from_settings)
    started = not lease.is_live() and claims.work_remains()
    if started:
        enqueue()
    return {"swept": swept, "started": started}


__all__ = ["Driver", "drive", "enqueue", "ensure"]
