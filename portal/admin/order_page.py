"""The order page: what an operator needs to read, nothing to edit.

The result fields first, then the order's way through the provider; the raw result code (with
its `<br>` tags) is folded away, since the parsed fields say the same. Internal fields (claim
token, lease, next poll) are left out.
"""

from django.contrib import admin
from django.utils.html import format_html

from orders.models import Order

from .display import FOLDED, money

ORDER_FIELDS = [
    "imei",
    "status_display",
    "batch",
    "service",
    "cost_display",
    "provider_id",
    "attempts",
    "created_at",
    "submitted_at",
    "finished_at",
    "error_display",
]
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
    "result_lines",
    "raw_code",
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


class OrderPageMixin:
    readonly_fields = [*ORDER_FIELDS, *RESULT_FIELDS]

    def get_fieldsets(self, request, obj=None):
        fieldsets = [(None, {"fields": ORDER_FIELDS})]
        if obj is not None and (obj.result_code or obj.result_text):
            fieldsets.append(("Result", {"fields": RESULT_FIELDS}))
        return fieldsets

    def change_view(self, request, object_id, form_url="", extra_context=None):
        order = self.get_object(request, object_id)
        title = order_title(order) if order is not None else "Order"
        extra_context = {**NO_SAVE, "title": title, **(extra_context or {})}
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
        if order.placed_id_unknown and order.status in Order.MAY_BE_PLACED_STATUSES + [
            Order.Status.DUPLICATE
        ]:
            return format_html(
                "<span class='status-unknown'>{}</span>",
                "Placed, but its id was lost (the answer never came): see the timeline.",
            )
        return "Not placed"

    @admin.display(description="last error")
    def error_display(self, order):
        return order.last_error or "—"

    @admin.display(description="all result lines")
    def result_lines(self, order):
        return format_html("<div class='result-lines'>{}</div>", order.result_text)

    @admin.display(description="provider's raw result")
    def raw_code(self, order):
        if not order.result_code:
            return "—"
        return format_html(FOLDED, "Show", order.result_code)
