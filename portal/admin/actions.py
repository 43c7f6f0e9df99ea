"""Processing actions for the Batch and Order changelists, with their confirmation pages.

Each action is a few lines over a use case in submissions.services and ends by saying how
many rows changed. Re-submitting spends money and cancelling is final, so both first show a
confirmation page (like Django's delete_selected), which posts back with `post=yes`.
"""

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import Count, Q, Sum
from django.template.response import TemplateResponse

from orders.models import Order
from submissions import services


def plural(count, word, many=None):
    return f"{count} {word if count == 1 else many or word + 's'}"


def orders_of(batches):
    return Order.objects.filter(batch__in=batches)


def resubmit_figures(orders):
    """`failed_count`, `failed_cost`, `unknown_count`, `unknown_cost`: one aggregate query."""
    aggregates = {}
    for status in (Order.Status.FAILED, Order.Status.UNKNOWN):
        aggregates[f"{status}_count"] = Count("id", filter=Q(status=status))
        aggregates[f"{status}_cost"] = Sum("service__price", filter=Q(status=status))
    return {name: value or 0 for name, value in orders.aggregate(**aggregates).items()}


def confirm(modeladmin, request, queryset, action, template, **context):
    """The confirmation page of `action` for the selected `queryset`."""
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": "Are you sure?",
        "opts": modeladmin.model._meta,
        "queryset": queryset,
        "action": action,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        **context,
    }
    return TemplateResponse(request, f"admin/orders/{template}", context)


def resubmit(modeladmin, request, queryset, orders):
    """Ask first (count, cost, the unknown-outcome choice), then re-submit."""
    if request.POST.get("post") != "yes":
        template = "resubmit_confirmation.html"
        figures = resubmit_figures(orders)
        return confirm(modeladmin, request, queryset, "resubmit_failed", template, **figures)
    include_unknown = request.POST.get("include_unknown") == "on"
    count = services.resubmit_failed(orders, request.user, include_unknown=include_unknown)
    modeladmin.message_user(request, f"Re-submitted {plural(count, 'order')}.", messages.SUCCESS)
    return None


def sync_now(modeladmin, request, orders):
    count = services.sync_statuses_now(orders)
    modeladmin.message_user(
        request, f"Asked the provider for the status of {plural(count, 'order')}.", messages.INFO
    )


class PermissionsMixin:
    def has_resubmit_permission(self, request):
        return request.user.has_perm("orders.resubmit_order")

    def has_cancel_batch_permission(self, request):
        return request.user.has_perm("orders.cancel_batch")


class OrderActionsMixin(PermissionsMixin):
    actions = ["resubmit_failed", "sync_status_now"]

    @admin.action(description="Re-submit failed orders", permissions=["resubmit"])
    def resubmit_failed(self, request, queryset):
        return resubmit(self, request, queryset, queryset)

    @admin.action(description="Sync status now", permissions=["view"])
    def sync_status_now(self, request, queryset):
        sync_now(self, request, queryset)


class BatchActionsMixin(PermissionsMixin):
    actions = [
        "resubmit_failed",
        "pause_batches",
        "resume_batches",
        "cancel_batches",
        "sync_status_now",
    ]

    @admin.action(description="Re-submit failed orders", permissions=["resubmit"])
    def resubmit_failed(self, request, queryset):
        return resubmit(self, request, queryset, orders_of(queryset))

    @admin.action(description="Pause selected batches", permissions=["cancel_batch"])
    def pause_batches(self, request, queryset):
        count = sum(services.pause_batch(batch, request.user) for batch in queryset)
        self.message_user(request, f"Paused {plural(count, 'batch', 'batches')}.", messages.SUCCESS)

    @admin.action(description="Resume selected batches", permissions=["cancel_batch"])
    def resume_batches(self, request, queryset):
        count = sum(services.resume_batch(batch, request.user) for batch in queryset)
        self.message_user(
            request, f"Resumed {plural(count, 'batch', 'batches')}.", messages.SUCCESS
        )

    @admin.action(description="Cancel selected batches", permissions=["cancel_batch"])
    def cancel_batches(self, request, queryset):
        if request.POST.get("post") != "yes":
            figures = orders_of(queryset).aggregate(
                queued_count=Count("id", filter=Q(status=Order.Status.QUEUED)),
                sent_count=Count("id", filter=Q(status__in=Order.MAY_BE_PLACED_STATUSES)),
            )
            template = "cancel_confirmation.html"
            return confirm(self, request, queryset, "cancel_batches", template, **figures)
        results = [services.cancel_batch(batch, request.user) for batch in queryset]
        self.message_user(request, cancel_message(results), messages.SUCCESS)
        return None

    @admin.action(description="Sync status now", permissions=["view"])
    def sync_status_now(self, request, queryset):
        sync_now(self, request, orders_of(queryset))


def cancel_message(results):
    batches = sum(r.batch_cancelled for r in results)
    cancelled = sum(r.orders_cancelled for r in results)
    sent = sum(r.already_sent for r in results)
    return (
        f"Cancelled {plural(batches, 'batch', 'batches')} and {plural(cancelled, 'queued order')}; "
        f"{plural(sent, 'order')} had already been sent and cannot be called back."
    )
