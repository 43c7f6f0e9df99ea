from django.apps import AppConfig


class PortalConfig(AppConfig):
    """The site itself: the staff UI (admin pages), its template tags and static files."""

    name = "portal"
    verbose_name = "IMEI operations portal"

    def ready(self):
        from submissions.signals import batch_finished

        from . import results_mail

        batch_finished.connect(results_mail.batch_finished, dispatch_uid="results_mail")
