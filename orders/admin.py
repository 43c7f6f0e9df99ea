from django.contrib import admin
from django.db.models import Count, Q
from django.utils.html import format_html

from .actions import BatchActionsMixin, OrderActionsMixin
from .display import TimelineInline, must_read_short, must_read_text
from .exports import BatchExportMixin, OrderExportMixin
from .filters import ORDER_FILTERS
from .import_admin import OrderImportMixin
from .models import Batch, Order, Service
from .search import MultiImeiSearchMixin
from .views import BatchPageMixin


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = ["id", "title", "category", "price", "delivery_time", must_read_short, "active"]
    list_filter = ["active", "category"]
    search_fields = ["id", "title", "category"]
    readonly_fields = ["synced_at", must_read_text]


@admin.register(Batch)
class BatchAdmin(BatchActionsMixin, BatchPageMixin, BatchExportMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "source_name",
        "service",
        "state",
        "order_count",
        "open_count",
        "created_at",
        "created_by",
    ]
    list_filter = ["state", "service"]
    search_fields = ["id", "source_name", "note"]
    list_select_related = ["service", "created_by"]
    readonly_fields = [
        "service",
        "created_by",
        "source_name",
        "created_at",
        "started_at",
        "finished_at",
        "state",
    ]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                order_count=Count("orders"),
                open_count=Count("orders", filter=Q(orders__status__in=Order.OPEN_STATUSES)),
            )
        )

    @admin.display(description="orders", ordering="order_count")
    def order_count(self, batch):
        return batch.order_count

    @admin.display(description="open", ordering="open_count")
    def open_count(self, batch):
        return batch.open_count


@admin.register(Order)
class OrderAdmin(
    OrderActionsMixin, MultiImeiSearchMixin, OrderImportMixin, OrderExportMixin, admin.ModelAdmin
):
    list_display = [
        "imei",
        "status",
        "batch",
        "service",
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

    def has_add_permission(self, request):
        return False

    @admin.display(description="status")
    def status_badge(self, order):
        return format_html(
            "<span class='status status-{}'>{}</span>", order.status, order.get_status_display()
        )
