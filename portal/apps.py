from django.apps import AppConfig


class PortalConfig(AppConfig):
    """The site itself: the staff UI (admin pages), its template tags and static files."""

    name = "portal"
    verbose_name = "IMEI operations portal"
