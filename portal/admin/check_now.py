""" "Check now": 1-50 IMEIs sent before every batch, their results shown as they come in.

The box on the admin index and the order page's "Check again" post here. The IMEIs become a
small batch of priority urgent (docs/urgent.md), which the claim serves before any other.
The results page asks `check-now/<batch>/results.json` every second and fills its rows in
place (portal/static/portal/check_now.js), until every order is final.
"""

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from orders.imei import diagnose, pasted_values
from orders.models import Batch, Order

from .forms import active_services, service_choices
from .resources import BatchPlan, create_batch

MAX_IMEIS = 50
POLL_MS = 1000
SHOWN_FIELDS = ["model_name", "carrier", "simlock", "fmi", "gsma_status"]


class CheckNowForm(forms.Form):
    imeis = forms.CharField(
        label="IMEIs",
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "1 to 50 IMEIs"}),
    )
    service = forms.ChoiceField()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["service"].choices = service_choices()

    def clean_imeis(self):
        good, bad = [], []
        for _, value in pasted_values(self.cleaned_data["imeis"]):
            imei, _, problem = diagnose(value)
            if problem:
                bad.append(f"{value[:20]} {problem}")
            elif imei not in good:
                good.append(imei)
        if bad:
            raise forms.ValidationError("Not sent: " + "; ".join(bad[:5]) + ".")
        if not 1 <= len(good) <= MAX_IMEIS:
            raise forms.ValidationError(f"Check now takes 1 to {MAX_IMEIS} IMEIs, not {len(good)}.")
        return good

    def clean_service(self):
        service = active_services().filter(pk=self.cleaned_data["service"]).first()
        if service is None:
            raise forms.ValidationError("Choose an active service.")
        return service


def check_now(service, imeis, user):
    """An urgent batch of these IMEIs for `service` (sent again even if ordered before)."""
    plan = BatchPlan(service, "check now", imeis, duplicates=0, already=[], check_again=True)
    return create_batch(plan, user, priority=Batch.Priority.URGENT)


def safe_back(request):
    """Where a refused form goes back to: the posting page if it is ours, else the index."""
    back = request.POST.get("back", "")
    ours = url_has_allowed_host_and_scheme(back, {request.get_host()}, request.is_secure())
    return back if back and ours else reverse("admin:index")


def order_row(order):
    return {
        "id": order.pk,
        "imei": order.imei,
        "status": order.status,
        "status_label": order.get_status_display(),
        "error": order.last_error,
        **{name: getattr(order, name) for name in SHOWN_FIELDS},
    }


class CheckNowMixin:
    """On OrderAdmin: the check-now POST, its results page and their JSON."""

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("check-now/", view(require_POST(self.check_now_view)), name="orders_check_now"),
            path("check-now/<int:batch_id>/", view(self.check_results_view), name="orders_check"),
            path(
                "check-now/<int:batch_id>/results.json",
                view(self.check_results_json),
                name="orders_check_json",
            ),
            *super().get_urls(),
        ]

    def check_now_view(self, request):
        if not request.user.has_perm("orders.import_order"):
            raise PermissionDenied
        form = CheckNowForm(request.POST)
        if not form.is_valid():
            errors = [e for field in form.errors.values() for e in field]
            self.message_user(request, " ".join(errors), messages.ERROR)
            return redirect(safe_back(request))
        data = form.cleaned_data
        batch = check_now(data["service"], data["imeis"], request.user)
        return redirect("admin:orders_check", batch.pk)

    def urgent_batch(self, request, batch_id):
        if not self.has_view_permission(request):
            raise PermissionDenied
        return get_object_or_404(Batch, pk=batch_id, priority=Batch.Priority.URGENT)

    def check_results_view(self, request, batch_id):
        batch = self.urgent_batch(request, batch_id)
        orders = batch.orders.order_by("id")
        context = {
            **self.admin_site.each_context(request),
            "title": f"Check now: {orders.count()} IMEIs",
            "batch": batch,
            "rows": [(row, [(f, row[f]) for f in SHOWN_FIELDS]) for row in map(order_row, orders)],
            "fields": [Order._meta.get_field(name) for name in SHOWN_FIELDS],
            "json_url": reverse("admin:orders_check_json", args=[batch.pk]),
            "poll_ms": POLL_MS,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/orders/check_now.html", context)

    def check_results_json(self, request, batch_id):
        batch = self.urgent_batch(request, batch_id)
        rows = [order_row(order) for order in batch.orders.order_by("id")]
        still_open = any(row["status"] in Order.OPEN_STATUSES for row in rows)
        return JsonResponse({"orders": rows, "open": still_open})
