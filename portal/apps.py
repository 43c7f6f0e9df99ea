from django.apps import AppConfig


class PortalConfig(AppConfig):
    """The site itself: the staff UI (admin pages), its template tags and static files."""

    name = "portal"
    verbose_name = "IMEI operations portal"

    def ready(self):
        # The admin has imported every app's registrations by now (its ready() runs first).
        from portal.admin.task_queue import superusers_only

        superusers_only()
