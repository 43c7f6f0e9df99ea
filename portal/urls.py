from django.contrib import admin
from django.urls import path
from django.views.generic import RedirectView

from portal import twofactor
from portal.admin.sending import sending_status_view
from portal.health import health_details_view, health_view
from portal.metrics import metrics_view

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("health/", health_view, name="health"),
    path("health/details/", health_details_view, name="health-details"),
    path("metrics", metrics_view, name="metrics"),
    *twofactor.urlpatterns,  # before the admin's catch-all
    path("admin/sending.json", sending_status_view, name="sending_status"),
    path("admin/", admin.site.urls),
]
