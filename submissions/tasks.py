"""django-q2 tasks: thin wrappers around the engine and the services."""

from . import alerts, catalogue, engine, health, services


def drive():
    """One bounded driver run (exits at once if another driver holds the lease)."""
    return engine.drive()


def ensure_driver():
    """Every minute (see the migration's Schedule): sweep dead leases, restart the chain."""
    return engine.ensure_driver()


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
