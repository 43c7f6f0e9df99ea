"""The staff UI: the Django admin pages for services, batches and orders.

The top layer: it reads the domain (`orders`) and calls the engine's services (`submissions`);
nothing below imports it. `registry` registers the ModelAdmins when the admin autodiscovers;
`monitoring` registers the live controls and the alerts; `spend_admin` the audit trail and
price rises.
"""

from django.contrib import admin

from . import books, monitoring, registry, spend_admin  # noqa: F401

admin.site.site_header = "IMEI operations portal"
admin.site.site_title = "IMEI portal"
admin.site.index_title = "Today"
