from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.urls import path
from django.utils.text import Truncator
from django.views.decorators.http import require_POST

from orders.models import Batch, Order, Service
from submissions.catalogue import sync_services
from submissions.provider import ProviderError

from .actions import BatchActionsMixin, OrderActionsMixin
from .batch_list import BatchListColumns
from .batch_page import BatchPageMixin
from .counting import CountedChangelistMixin
from .display import TimelineInline, must_read_short, must_read_text
from .exports import BatchExportMixin, OrderExportMixin
from .filters import ORDER_FILTERS
from .import_admin import OrderImportMixin
from .search import MultiImeiSearchMixin


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = ["id", "title", "category", "price", "delivery_time", must_read_short, "active"]
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
    BatchActionsMixin, BatchPageMixin, BatchExportMixin, BatchListColumns, admin.ModelAdmin
):
    # Columns, their counts and the page's ETA: BatchListColumns (batch_list.py).
    list_filter = ["state", "service"]
    search_fields = ["id", "source_name", "note"]
    list_select_related = ["service", "created_by"]
    # The live panel above the form shows the state; only the note is edited here.
    fields = ["note", "service", "source_name", "created_by", "created_at"]
    readonly_fields = ["service", "created_by", "source_name", "created_at"]

    # Batches come from an import and hold charged orders: never added or deleted by hand.
    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Order)
class OrderAdmin(
    OrderActionsMixin,
    MultiImeiSearchMixin,
    OrderImportMixin,
    OrderExportMixin,
    CountedChangelistMixin,
    admin.ModelAdmin,
):
    list_display = [
        "imei",
        "status",
        "batch",
        "service_name",
        "remote_id",
        "carrier",
        "simlock",
        "fmi",
        "model_name",
        "cost",
        "created_at",
    ]
    list_filter = ORDER_FILTERS
    search_fields = ["imei", "remote_id"]
    list_select_related = ["batch", "service"]
    inlines = [TimelineInline]
    readonly_fields = [f.name for f in Order._meta.fields]
    # The "many IMEIs" box (MultiImeiSearchMixin). ImportMixin replaces the list's template
    # with its own, which then extends this one, so the box stays under the Import button.
    change_list_template = "admin/orders/order/change_list.html"

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="service", ordering="service__title")
    def service_name(self, order):
        # Provider titles run to 90 characters: a short one keeps the rows one line high.
        return Truncator(order.service.title).chars(32)
