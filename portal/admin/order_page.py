"""The order page: what an operator needs to read, nothing to edit.

The result fields first, then the order's way through the provider; the provider's whole
result is folded away, since the parsed fields say most of it. Internal fields (claim token,
lease, next poll) are left out; times have seconds.
"""

from django.contrib import admin
from django.utils import timezone
from django.utils.html import format_html

from orders.models import Order

from .display import FOLDED, money
from .history import history_url
from .wording import with_details

ORDER_FIELDS = [
    "imei",
    "status_display",
    "batch",
    "service",
    "cost_display",
    "provider_id",
    "attempts",
    "created",
    "submitted",
    "finished",
    "error_display",
]
# The parsed result fields, shown when the provider filled them in.
RESULT_FIELDS = [
    "model_name",
    "carrier",
    "simlock",
    "fmi",
    "imei2",
    "serial",
    "gsma_status",
    "purchase_date",
    "applecare",
]
# Nothing on an order is edited by hand: no Save buttons.
NO_SAVE = {
    "show_save": False,
    "show_save_and_continue": False,
    "show_save_and_add_another": False,
    "show_delete": False,
}


def order_title(order):
    return f"Order {order.imei} · {order.get_status_display()}"


def local_seconds(moment):
    return f"{timezone.localtime(moment):%Y-%m-%d %H:%M:%S}" if moment else "—"


class OrderPageMixin:
    readonly_fields = [*ORDER_FIELDS, *RESULT_FIELDS, "full_result"]
    change_form_template = "admin/orders/order/change_form.html"

    def get_fieldsets(self, request, obj=None):
        """The result first (its filled-in fields and the whole answer, folded), then the
        order's way through the provider."""
        fieldsets = [("Order", {"fields": ORDER_FIELDS})]
        if obj is not None and (obj.result_code or obj.result_text):
            filled = [name for name in RESULT_FIELDS if getattr(obj, name)]
            fieldsets.insert(0, ("Result", {"fields": [*filled, "full_result"]}))
        return fieldsets

    def change_view(self, request, object_id, form_url="", extra_context=None):
        order = self.get_object(request, object_id)
        title = order_title(order) if order is not None else "Order"
        extra_context = {**NO_SAVE, "title": title, **(extra_context or {})}
        if order is not None:
            extra_context["history_url"] = history_url(order.imei)
            may_check = request.user.has_perm("orders.import_order") and order.service.active
            extra_context["check_again"] = may_check
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description="status")
    def status_display(self, order):
        return format_html(
            "<span class='status status-{}'>{}</span>", order.status, order.get_status_display()
        )

    @admin.display(description="cost")
    def cost_display(self, order):
        return money(order.cost)

    @admin.display(description="provider order id")
    def provider_id(self, order):
        """The id, or why there is none; only a lost id of a placed order is a warning."""
        if order.remote_id:
            return str(order.remote_id)
        if order.placed_without_id and order.status in Order.MAY_BE_PLACED_STATUSES + [
            Order.Status.DUPLICATE
        ]:
            return format_html(
                "<span class='status-unknown'>{}</span>",
                "Placed, but its id was lost (the answer never came): see the timeline.",
            )
        return "Not placed"

    @admin.display(description="last error")
    def error_display(self, order):
        return with_details(order.last_error) if order.last_error else "—"

    @admin.display(description="provider's whole result")
    def full_result(self, order):
        """Every line the provider sent (parsed or not), folded: the fields above say most."""
        text = order.result_text or order.result_code
        lines = len(text.splitlines())
        return format_html(FOLDED, f"Show all {lines} lines" if lines > 1 else "Show", text)

    @admin.display(description="created")
    def created(self, order):
        return local_seconds(order.created_at)

    @admin.display(description="sent")
    def submitted(self, order):
        return local_seconds(order.submitted_at)

    @admin.display(description="finished")
    def finished(self, order):
        return local_seconds(order.finished_at)
