"""The admin pages of spend: the audit trail (read-only, exportable), price rises."""

import csv

from django.contrib import admin, messages
from django.http import HttpResponse

from submissions import pricerise
from submissions.models import AuditRecord, PriceRise

from .readonly import ReadOnlyAdmin

AUDIT_COLUMNS = ["id", "at", "username", "action", "amount", "detail", "prev_hash", "hash"]


@admin.register(AuditRecord)
class AuditRecordAdmin(ReadOnlyAdmin):
    list_display = ["id", "at", "username", "action", "amount", "detail"]
    list_filter = ["action"]
    search_fields = ["username", "detail"]
    readonly_fields = AUDIT_COLUMNS
    actions = ["export_csv"]

    @admin.action(description="Export selected records (CSV, with their hashes)")
    def export_csv(self, request, queryset):
        response = HttpResponse(content_type="text/csv")
        response["Content-Disposition"] = 'attachment; filename="audit.csv"'
        writer = csv.writer(response)
        writer.writerow(AUDIT_COLUMNS)
        for row in queryset.order_by("id").values_list(*AUDIT_COLUMNS):
            writer.writerow(row)
        return response


@admin.register(PriceRise)
class PriceRiseAdmin(ReadOnlyAdmin):
    list_display = ["service", "old_price", "new_price", "detected_at", "acknowledged_by"]
    list_filter = [("acknowledged_at", admin.EmptyFieldListFilter)]
    list_select_related = ["service", "acknowledged_by"]
    actions = ["acknowledge"]

    def has_acknowledge_permission(self, request):
        return request.user.has_perm("submissions.acknowledge_pricerise")

    @admin.action(description="Acknowledge the new price (resumes held batches)")
    def acknowledge(self, request, queryset):
        count = sum(pricerise.acknowledge(rise, request.user) for rise in queryset)
        self.message_user(request, f"Acknowledged {count} price rises.", messages.SUCCESS)
