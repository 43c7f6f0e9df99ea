"""django-q2 tasks: thin wrappers around the driver and the services."""

from datetime import timedelta

from django.utils import timezone

from . import alerts, canary, catalogue, driver, health, services, statement
from . import housekeeping as housekeeping_
from .driver import shutdown


def drive():
    """One bounded driver run (exits at once if another driver holds the lease).

    A SIGTERM meanwhile (a deploy) ends it early with every call in flight recorded; the
    worker process then exits instead of waiting for more tasks (submissions/driver/shutdown.py).
    """
    with shutdown.stop_on_sigterm():
        summary = driver.drive()
    if shutdown.requested():
        shutdown.exit_worker()
    return summary


def ensure_driver():
    """Every minute (see the migration's Schedule): sweep dead leases, restart the chain."""
    return driver.ensure()


def sync_statuses():
    """Poll every due order now ("Sync status now")."""
    return services.poll_due_now()


def refresh_catalogue():
    """Every hour (see the migration's Schedule): re-sync services older than six hours."""
    return catalogue.refresh_if_stale()


def evaluate_alerts():
    """Every minute (see the migration's Schedule): open, clear and mail the alerts."""
    health.beat()
    return alerts.evaluate()


def housekeeping():
    """Every hour (see the migration's Schedule): delete old uploads, task results, alerts."""
    return housekeeping_.run()


def statement_yesterday():
    """Every night (see the migration's Schedule): yesterday's statement against the provider."""
    run = statement.run_day(timezone.localdate() - timedelta(days=1))
    return statement.summary(run)


def check_contract():
    """Every ten minutes (see the migration's Schedule): the provider contract canary."""
    return canary.check().ok
