"""Processing actions for the Batch and Order changelists, with their confirmation pages.

Each action is a few lines over a use case in submissions.services and ends by saying how
many rows changed. Re-submitting spends money and cancelling is final, so both first show a
confirmation page (like Django's delete_selected), which posts back with `post=yes`.

The batch page offers the same actions as buttons, for that one batch and only those that
apply to it (`batch_controls`): each posts to `<id>/do/<action>/`, which runs the very action
(same permissions, same confirmation page) and comes back to the batch page.
"""

from decimal import Decimal

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, Sum
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from orders.models import Batch, Order
from submissions import approval, services

CENT = Decimal("0.01")
NOTHING_TO_RESUBMIT = (
    "Nothing to re-submit: no failed or unknown-outcome orders among the selected ones."
)
# The batch page's buttons: (action, label), in the order shown.
BATCH_CONTROLS = [
    ("approve_batches", "Approve"),
    ("reject_batches", "Reject"),
    ("pause_batches", "Pause"),
    ("resume_batches", "Resume"),
    ("cancel_batches", "Cancel…"),
    ("resubmit_failed", "Re-submit failed…"),
    ("sync_status_now", "Sync status now"),
]


def plural(count, word, many=None):
    return f"{count} {word if count == 1 else many or word + 's'}"


def orders_of(batches):
    return Order.objects.filter(batch__in=batches)


def resubmit_figures(orders):
    """`failed_count`, `failed_cost`, `unknown_count`, `unknown_cost`: one aggregate query."""
    aggregates = {}
    for status in Order.PROBLEM_STATUSES:
        aggregates[f"{status}_count"] = Count("id", filter=Q(status=status))
        aggregates[f"{status}_cost"] = Sum("service__price", filter=Q(status=status))
    figures = {name: value or 0 for name, value in orders.aggregate(**aggregates).items()}
    # SQLite sums decimals as floats: round the costs to the cent for the page.
    for status in Order.PROBLEM_STATUSES:
        figures[f"{status}_cost"] = Decimal(figures[f"{status}_cost"]).quantize(CENT)
    return figures


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
        figures = resubmit_figures(orders)
        if not figures["failed_count"] and not figures["unknown_count"]:
            modeladmin.message_user(request, NOTHING_TO_RESUBMIT, messages.INFO)
            return None
        template = "resubmit_confirmation.html"
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

    def has_approve_permission(self, request):
        return request.user.has_perm(approval.APPROVE)


FAILED_BY_STAFF = "Marked failed by {}: not to be sent (it was not placed)."
CANCELLED_BY_STAFF = "Cancelled by {} before it was sent."


class OrderActionsMixin(PermissionsMixin):
    actions = ["resubmit_failed", "sync_status_now", "fail_orders", "cancel_orders"]

    @admin.action(description="Re-submit failed orders", permissions=["resubmit"])
    def resubmit_failed(self, request, queryset):
        return resubmit(self, request, queryset, queryset)

    @admin.action(
        description="Mark failed (queued or unknown orders)", permissions=["cancel_batch"]
    )
    def fail_orders(self, request, queryset):
        """One order the provider keeps refusing, or an unknown one checked at the provider."""
        reason = FAILED_BY_STAFF.format(request.user.get_username())
        chosen = queryset.filter(status__in=[Order.Status.QUEUED, Order.Status.UNKNOWN])
        done = sum(order.fail_by_operator(request.user, reason) for order in chosen)
        self.message_user(request, f"{done} orders marked failed; the others were not waiting.")

    @admin.action(description="Cancel (orders not sent yet)", permissions=["cancel_batch"])
    def cancel_orders(self, request, queryset):
        detail = CANCELLED_BY_STAFF.format(request.user.get_username())
        chosen = queryset.filter(status=Order.Status.QUEUED)
        done = sum(order.cancel(actor=request.user, detail=detail) for order in chosen)
        self.message_user(request, f"{done} orders cancelled; the others were sent already.")

    @admin.action(description="Sync status now", permissions=["view"])
    def sync_status_now(self, request, queryset):
        sync_now(self, request, queryset)


def applicable_controls(batch):
    """The batch page's actions that would change something for this batch now."""
    counts = batch.orders.aggregate(
        problems=Count("id", filter=Q(status__in=Order.PROBLEM_STATUSES)),
        awaiting=Count("id", filter=Q(status__in=Order.AWAITING_RESULT_STATUSES)),
    )
    awaiting = batch.state == Batch.State.AWAITING_APPROVAL
    applies = {
        "approve_batches": awaiting,
        "reject_batches": awaiting,
        "pause_batches": batch.state in Batch.LIVE_STATES,
        "resume_batches": batch.state == Batch.State.PAUSED,
        "cancel_batches": batch.state not in (Batch.State.DONE, Batch.State.CANCELLED),
        "resubmit_failed": counts["problems"] > 0 and batch.state != Batch.State.CANCELLED,
        "sync_status_now": counts["awaiting"] > 0,
    }
    return [name for name, wanted in applies.items() if wanted]


class BatchControlsMixin:
    """The batch page's buttons: the batch actions for one batch, posted from its page."""

    def get_urls(self):
        view = self.admin_site.admin_view(require_POST(self.control_view))
        control = path("<int:object_id>/do/<str:action>/", view, name="orders_batch_control")
        return [control, *super().get_urls()]

    def control_view(self, request, object_id, action):
        allowed = self.get_actions(request)
        if action not in allowed:
            raise PermissionDenied
        batches = Batch.objects.filter(pk=object_id)
        if not batches.exists():
            raise Http404("No such batch.")
        func, _, _ = allowed[action]
        response = func(self, request, batches)
        if response is not None:
            return response  # the confirmation page, which posts back here
        return HttpResponseRedirect(reverse("admin:orders_batch_change", args=[object_id]))

    def batch_controls(self, request, batch):
        """(action, label, url) of each button the user may press and that applies."""
        allowed = self.get_actions(request)
        wanted = set(applicable_controls(batch))
        return [
            (name, label, reverse("admin:orders_batch_control", args=[batch.pk, name]))
            for name, label in BATCH_CONTROLS
            if name in wanted and name in allowed
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        batch = Batch.objects.filter(pk=object_id).first() if str(object_id).isdigit() else None
        if batch is not None:
            title = f"Batch {batch.pk} - {batch.source_name or 'no file'}"
            extra_context = {
                "title": title,
                "batch_controls": self.batch_controls(request, batch),
                **(extra_context or {}),
            }
        return super().change_view(request, object_id, form_url, extra_context)

    def changelist_view(self, request, extra_context=None):
        return super().changelist_view(request, {"title": "Batches", **(extra_context or {})})


class BatchActionsMixin(BatchControlsMixin, PermissionsMixin):
    actions = [
        "resubmit_failed",
        "approve_batches",
        "reject_batches",
        "pause_batches",
        "resume_batches",
        "cancel_batches",
        "sync_status_now",
    ]

    @admin.action(description="Re-submit failed orders", permissions=["resubmit"])
    def resubmit_failed(self, request, queryset):
        return resubmit(self, request, queryset, orders_of(queryset))

    @admin.action(description="Approve selected batches", permissions=["approve"])
    def approve_batches(self, request, queryset):
        try:
            count = sum(approval.approve(batch, request.user) for batch in queryset)
        except PermissionDenied as refused:
            self.message_user(request, str(refused), messages.ERROR)
            return
        self.message_user(
            request, f"Approved {plural(count, 'batch', 'batches')}.", messages.SUCCESS
        )

    @admin.action(description="Reject selected batches", permissions=["approve"])
    def reject_batches(self, request, queryset):
        count = sum(approval.reject(batch, request.user) for batch in queryset)
        self.message_user(
            request, f"Rejected {plural(count, 'batch', 'batches')}.", messages.SUCCESS
        )

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
