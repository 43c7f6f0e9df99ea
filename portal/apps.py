from django.apps import AppConfig


class PortalConfig(AppConfig):
    """The site itself: the staff UI (admin pages), its template tags and static files."""

    name = "portal"
    verbose_name = "IMEI operations portal"

    def ready(self):
        from portal.admin.task_queue import superusers_only
        from submissions.signals import batch_finished

        from . import results_mail

        # The admin has imported every app's registrations by now (its ready() runs first).
        superusers_only()
        batch_finished.connect(results_mail.batch_finished, dispatch_uid="results_mail")
