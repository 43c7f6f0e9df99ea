"""One device's history: every order of an IMEI, results side by side, and what changed.

Reached from the order page (its IMEI), the check-now results and the order search (a search
for one IMEI links here). Read through the (imei, service) index; the last `SHOWN` orders.
"""

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import path, reverse

from orders.imei import check
from orders.models import Order

SHOWN = 50
# The fields compared between checks, in the order the page shows them.
COMPARED = ["fmi", "carrier", "gsma_status", "simlock", "model_name"]


@dataclass(frozen=True)
class Change:
    field: str  # verbose name
    before: str
    after: str
    earlier: Order
    later: Order


def device_orders(imei):
    """The IMEI's orders, oldest first (the last `SHOWN`), with service and batch."""
    orders = Order.objects.filter(imei=imei).select_related("service", "batch")
    return list(reversed(orders.order_by("-created_at", "-id")[:SHOWN]))


def changes(orders):
    """Each compared field that differs between one result and the next one holding it."""
    found, last = [], {}
    for order in [o for o in orders if o.status == Order.Status.COMPLETED]:
        for name in COMPARED:
            value = getattr(order, name)
            if not value:
                continue
            earlier = last.get(name)
            if earlier is not None and getattr(earlier, name) != value:
                label = Order._meta.get_field(name).verbose_name
                found.append(Change(label, getattr(earlier, name), value, earlier, order))
            last[name] = order
    return found


def result_rows(orders):
    """(field label, [value per order]) for each compared field some order holds."""
    rows = []
    for name in COMPARED:
        values = [getattr(order, name) for order in orders]
        if any(values):
            rows.append((Order._meta.get_field(name).verbose_name, values))
    return rows


def history_url(imei):
    return reverse("admin:orders_imei_history", args=[imei])


class ImeiHistoryMixin:
    """On OrderAdmin: `imei/<imei>/`, the device's history page."""

    def get_urls(self):
        view = self.admin_site.admin_view(self.imei_history_view)
        return [
            path("imei/<str:imei>/", view, name="orders_imei_history"),
            *super().get_urls(),
        ]

    def imei_history_view(self, request, imei):
        if not self.has_view_permission(request):
            raise PermissionDenied
        imei, problem = check(imei)
        if problem:
            raise Http404("Not an IMEI")
        orders = device_orders(imei)
        context = {
            **self.admin_site.each_context(request),
            "title": f"IMEI {imei}",
            "imei": imei,
            "orders": orders,
            "rows": result_rows(orders),
            "changes": changes(orders),
            "shown": SHOWN,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/orders/imei_history.html", context)
