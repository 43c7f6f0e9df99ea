"""The books' admin pages: daily statements (with their lines and a CSV export), the
per-service breaker for paid garbage (resume), and the contract canary's last check.

Everything here is read-only but for two small actions: "Mark reviewed" (a statement that
does not match stops alerting once someone has looked) and "Resume sending" (a service
paused for garbage results).
"""

import csv

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from orders.models import Order
from submissions import garbage, statement
from submissions.models import ContractCheck, ServiceHold, StatementLine, StatementRun

from .monitoring import OPERATE

EXPORT_COLUMNS = [
    "line", "portal order", "provider order id", "IMEI", "service", "provider status",
    "portal status", "provider amount", "portal amount", "note",
]  # fmt: skip


class ReadOnly:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class StatementLineInline(ReadOnly, admin.TabularInline):
    model = StatementLine
    fields = [
        "kind", "order_id", "remote_id", "imei", "service", "provider_status", "portal_status",
        "provider_amount", "portal_amount", "note",
    ]  # fmt: skip
    readonly_fields = fields
    extra = 0


@admin.register(StatementRun)
class StatementRunAdmin(ReadOnly, admin.ModelAdmin):
    list_display = [
        "day", "outcome", "provider_charged", "portal_recorded", "difference", "matched",
        "provider_only", "portal_only", "mismatched", "unread", "reviewed_at",
    ]  # fmt: skip
    list_filter = ["outcome"]
    date_hierarchy = "day"
    inlines = [StatementLineInline]
    readonly_fields = [*(f.name for f in StatementRun._meta.fields), "export"]
    actions = ["mark_reviewed"]

    def has_change_permission(self, request, obj=None):
        return False

    def get_urls(self):
        export = self.admin_site.admin_view(self.export_view)
        name = "submissions_statementrun_export"
        return [path("<int:pk>/export.csv", export, name=name), *super().get_urls()]

    @admin.display(description="lines")
    def export(self, run):
        url = reverse("admin:submissions_statementrun_export", args=[run.pk])
        return format_html('<a href="{}">Export every line (CSV)</a>', url)

    @admin.action(description="Mark reviewed (stops its alert)")
    def mark_reviewed(self, request, queryset):
        count = queryset.filter(reviewed_at=None).update(
            reviewed_at=timezone.now(), reviewed_by=request.user
        )
        self.message_user(request, f"{count} statements marked reviewed.", messages.SUCCESS)

    def export_view(self, request, pk):
        if not self.has_view_permission(request):
            raise PermissionDenied
        run = get_object_or_404(StatementRun, pk=pk)
        response = StreamingHttpResponse(export_rows(run), content_type="text/csv")
        name = f"statement-{run.day:%Y-%m-%d}-{run.pk}.csv"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response


class Echo:
    def write(self, value):
        return value


def export_rows(run):
    """The run's lines, then the day's matched orders (from the orders: they are not stored)."""
    writer = csv.writer(Echo())
    yield writer.writerow(EXPORT_COLUMNS)
    for item in run.lines.order_by("kind", "remote_id", "id").iterator():
        yield writer.writerow([
            item.get_kind_display(), item.order_id or "", item.remote_id or "", item.imei,
            item.service, item.provider_status, item.portal_status, item.provider_amount,
            item.portal_amount, item.note,
        ])  # fmt: skip
    yield from (writer.writerow(row) for row in matched_rows(run))


def matched_rows(run):
    start, end = statement.bounds(run.day)
    listed = run.lines.exclude(order_id=None).values("order_id")
    orders = (
        Order.objects.filter(submitted_at__gte=start, submitted_at__lt=end, remote_id__isnull=False)
        .exclude(pk__in=listed)
        .order_by("remote_id")
        .values_list("pk", "remote_id", "imei", "service__title", "status", "cost")
    )
    for pk, remote_id, imei, title, status, cost in orders.iterator(chunk_size=2000):
        yield ["Matched", pk, remote_id, imei, title, "", status, "", cost, ""]


@admin.register(ServiceHold)
class ServiceHoldAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ["service", "paused_at", "garbage_share", "reason", "examples_shown"]
    list_select_related = ["service"]
    list_filter = [("paused_at", admin.EmptyFieldListFilter)]
    readonly_fields = [f.name for f in ServiceHold._meta.fields]
    actions = ["resume_sending"]

    @admin.display(description="garbage in the window")
    def garbage_share(self, hold):
        return f"{hold.recent.count(garbage.GARBAGE)} of {len(hold.recent)}"

    @admin.display(description="examples")
    def examples_shown(self, hold):
        return "; ".join(f"order {e['order']}: {e['code']!r}" for e in hold.examples)

    @admin.action(description="Resume sending (a fresh window of results)")
    def resume_sending(self, request, queryset):
        if not request.user.has_perm(OPERATE):
            self.message_user(request, "You may not operate sending.", messages.ERROR)
            return
        count = sum(garbage.resume(hold.service_id, request.user) for hold in queryset)
        self.message_user(request, f"{count} services resumed.", messages.SUCCESS)


@admin.register(ContractCheck)
class ContractCheckAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ["__str__", "checked_at", "ok", "failing_since", "problems", "last_error"]
    readonly_fields = [f.name for f in ContractCheck._meta.fields]
