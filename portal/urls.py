from django.contrib import admin
from django.urls import path
from django.views.generic import RedirectView

from portal import twofactor
from portal.admin.sending import sending_status_view
from portal.health import health_view

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("health/", health_view, name="health"),
    *twofactor.urlpatterns,  # before the admin's catch-all
    path("admin/sending.json", sending_status_view, name="sending_status"),
    path("admin/", admin.site.urls),
]
