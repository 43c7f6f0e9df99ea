from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from orders.imei import check
from orders.models import Batch, Order, Service
from submissions.catalogue import sync_services
from submissions.models import MailSetting
from submissions.provider import ProviderError

from .actions import BatchActionsMixin, OrderActionsMixin
from .batch_list import BatchListColumns
from .batch_page import BatchPageMixin
from .check_now import CheckNowMixin
from .counting import CountedChangelistMixin
from .display import (
    TimelineInline,
    money,
    must_read_short,
    must_read_text,
    plain_service_title,
    short_time,
)
from .exports import BatchExportMixin, OrderExportMixin
from .filters import ORDER_FILTERS, DateRangeFilter
from .history import ImeiHistoryMixin, history_url
from .import_admin import OrderImportMixin
from .order_page import OrderPageMixin
from .priority import BatchPriorityMixin
from .search import MultiImeiSearchMixin, pasted_ordering
from .wording import with_details


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "title",
        "category",
        "price_display",
        "delivery_time",
        must_read_short,
        "active",
    ]
    list_filter = ["active", "category"]
    search_fields = ["id", "title", "category"]
    readonly_fields = ["synced_at", must_read_text]
    change_list_template = "admin/orders/service/change_list.html"

    # The catalogue is the provider's: it is synced, never typed in or deleted by hand.
    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        extra_context = {"can_sync": self.has_change_permission(request), **(extra_context or {})}
        return super().changelist_view(request, extra_context)

    @admin.display(description="price", ordering="price")
    def price_display(self, service):
        return money(service.price)

    def get_urls(self):
        sync = self.admin_site.admin_view(require_POST(self.sync_view))
        return [path("sync/", sync, name="orders_service_sync"), *super().get_urls()]

    def sync_view(self, request):
        if not self.has_change_permission(request):
            raise PermissionDenied
        try:
            counts = sync_services()
        except (ProviderError, ValueError) as exc:
            self.message_user(request, f"Catalogue not synced: {exc}", messages.ERROR)
        else:
            self.message_user(
                request,
                "Catalogue synced: {created} new, {updated} changed, {deactivated} no longer "
                "listed.".format(**counts),
            )
        return redirect("admin:orders_service_changelist")


@admin.register(Batch)
class BatchAdmin(
    BatchActionsMixin,
    BatchPriorityMixin,
    BatchPageMixin,
    BatchExportMixin,
    BatchListColumns,
    admin.ModelAdmin,
):
    # Columns, their counts and the page's ETA: BatchListColumns (batch_list.py).
    list_filter = [("created_at", DateRangeFilter), "state", "priority", "service"]
    search_fields = ["id", "source_name", "note"]
    list_select_related = ["service", "created_by"]
    # The live panel above the form shows the state; only the note is edited here.
    fields = ["note", "service", "source_name", "created_by", "created_at", "approval_display"]
    readonly_fields = ["service", "created_by", "source_name", "created_at", "approval_display"]

    @admin.display(description="approval")
    def approval_display(self, batch):
        """Who asked for approval, who approved (or rejected) it, when."""
        if batch.approved_by_id is None and batch.approval_requested_by_id is None:
            return "not needed" if batch.state != Batch.State.AWAITING_APPROVAL else "awaiting"
        asked = f"requested by {batch.approval_requested_by or batch.created_by}"
        if batch.approved_by_id is None:
            return f"Awaiting approval ({asked})"
        verb = "rejected" if batch.state == Batch.State.CANCELLED else "approved"
        when = f"{batch.approved_at:%Y-%m-%d %H:%M}"
        return f"{verb.capitalize()} by {batch.approved_by} at {when} ({asked})"

    # Batches come from an import and hold charged orders: never added or deleted by hand.
    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Order)
class OrderAdmin(
    CheckNowMixin,
    ImeiHistoryMixin,
    OrderActionsMixin,
    OrderPageMixin,
    MultiImeiSearchMixin,
    OrderImportMixin,
    OrderExportMixin,
    CountedChangelistMixin,
    admin.ModelAdmin,
):
    # Every result an operator decides on reads in full at 1280 px: the texts wrap, the
    # short fields do not (portal.css, `.model-order`).
    list_display = [
        "imei",
        "status_display",
        "reason_display",
        "batch_display",
        "service_display",
        "carrier",
        "simlock_display",
        "fmi_display",
        "model_display",
        "cost_display",
        "created_display",
    ]
    list_filter = ORDER_FILTERS
    search_fields = ["imei", "remote_id"]
    list_select_related = ["batch", "service"]
    inlines = [TimelineInline]
    # The "many IMEIs" box (MultiImeiSearchMixin) and the list's look. ImportMixin renders
    # its own list template (here: ours with the Import and Export buttons), which extends
    # this one.
    change_list_template = "admin/orders/order/change_list.html"
    import_export_change_list_template = "admin/orders/order/change_list_tools.html"

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_ordering(self, request):
        pasted = pasted_ordering(request)
        return pasted if pasted is not None else super().get_ordering(request)

    def changelist_view(self, request, extra_context=None):
        # The list needs the width the navigation sidebar takes (the header still links).
        searched, _ = check(request.GET.get("q", "").strip())
        extra_context = {
            "title": "Orders",
            "history_url": history_url(searched) if searched else None,
            "is_nav_sidebar_enabled": False,
            **(extra_context or {}),
        }
        return super().changelist_view(request, extra_context)

    @admin.display(description="status", ordering="status")
    def status_display(self, order):
        return format_html(
            "<span class='status status-{}'>{}</span>", order.status, order.get_status_display()
        )

    @admin.display(description="reason")
    def reason_display(self, order):
        """Why a failed, rejected, unknown or duplicate order is so, in full; else blank."""
        if order.status in Order.OPEN_STATUSES or order.status == Order.Status.COMPLETED:
            return ""
        return with_details(order.last_error)

    @admin.display(description="batch", ordering="batch_id")
    def batch_display(self, order):
        url = reverse("admin:orders_batch_change", args=[order.batch_id])
        return format_html("<a href='{}' title='{}'>{}</a>", url, order.batch, order.batch_id)

    @admin.display(description="service", ordering="service__title")
    def service_display(self, order):
        # The menu code and emoji dropped; the provider's exact title on hover.
        title = order.service.title
        return format_html("<span title='{}'>{}</span>", title, plain_service_title(title))

    @admin.display(description="SIM lock", ordering="simlock")
    def simlock_display(self, order):
        return order.simlock

    @admin.display(description="FMI", ordering="fmi")
    def fmi_display(self, order):
        return order.fmi

    @admin.display(description="model", ordering="model_name")
    def model_display(self, order):
        return order.model_name

    @admin.display(description="cost", ordering="cost")
    def cost_display(self, order):
        return money(order.cost)

    @admin.display(description="created", ordering="created_at")
    def created_display(self, order):
        return format_html(
            "<time datetime='{}'>{}</time>",
            order.created_at.isoformat(),
            short_time(order.created_at),
        )


@admin.register(MailSetting)
class MailSettingAdmin(admin.ModelAdmin):
    """Each user's own mail settings; a superuser sees everyone's."""

    list_display = ["user", "batch_results"]

    def get_queryset(self, request):
        settings = super().get_queryset(request).select_related("user")
        return settings if request.user.is_superuser else settings.filter(user=request.user)

    def get_fields(self, request, obj=None):
        return ["user", "batch_results"] if request.user.is_superuser else ["batch_results"]

    def has_add_permission(self, request):
        if request.user.is_superuser:
            return True
        return not MailSetting.objects.filter(user=request.user).exists()  # one row each

    def has_change_permission(self, request, obj=None):
        return obj is None or request.user.is_superuser or obj.user_id == request.user.pk

    has_view_permission = has_change_permission

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_staff

    def save_model(self, request, obj, form, change):
        if not request.user.is_superuser:
            obj.user = request.user
        super().save_model(request, obj, form, change)
