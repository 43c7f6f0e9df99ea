"""Filters of the order changelist: the questions operators ask all day.

Each lists its choices from a cheap query (recent batches, recent orders), never from a
DISTINCT over the whole orders table, which grows by up to 30,000 rows a week.
"""

import re
from datetime import timedelta

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.db.models import Count, Q
from django.utils import timezone

from orders.models import Batch, Order, Service
from orders.stuck import parse_delivery_time, stuck_condition  # noqa: F401 (re-exported)

from .search import ImeiListFilter

RECENT_BATCHES = 15
RECENT_DAYS = 30
MAX_VALUES = 30
# A hand-edited URL can carry any text: at most 18 digits still fits the database's integer.
AN_ID = re.compile(r"\d{1,18}")


class StuckFilter(admin.SimpleListFilter):
    title = "stuck"
    parameter_name = "stuck"

    def lookups(self, request, model_admin):
        return [("yes", "Open longer than twice the delivery time")]

    def queryset(self, request, queryset):
        if self.value() != "yes":
            return queryset
        return queryset.filter(status__in=Order.OPEN_STATUSES).filter(stuck_condition())


class HasErrorFilter(admin.SimpleListFilter):
    title = "has error"
    parameter_name = "has_error"

    def lookups(self, request, model_admin):
        return [("yes", "With an error"), ("no", "Without")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.exclude(last_error="")
        if self.value() == "no":
            return queryset.filter(last_error="")
        return queryset


class FieldValueFilter(admin.SimpleListFilter):
    """Orders whose `field` equals the chosen value; all of them when none is chosen."""

    field = None

    def chosen(self):
        return self.value()

    def queryset(self, request, queryset):
        chosen = self.chosen()
        return queryset.filter(**{self.field: chosen}) if chosen else queryset


class IdFilter(FieldValueFilter):
    """A FieldValueFilter on a foreign key's id.

    A value that is no id is a bad lookup (the admin shows its "?e=1" page), never a 500.
    """

    def chosen(self):
        value = self.value()
        if value and not AN_ID.fullmatch(value):
            raise IncorrectLookupParameters(f"{self.parameter_name}: {value!r} is not an id")
        return value


class BatchFilter(IdFilter):
    """The recent batches (and the chosen one); the batch page links here."""

    title = "batch"
    parameter_name = "batch__id__exact"
    field = "batch_id"

    def lookups(self, request, model_admin):
        batches = Batch.objects.order_by("-created_at")[:RECENT_BATCHES]
        choices = [(str(b.pk), str(b)) for b in batches]
        chosen = self.chosen()
        if chosen and chosen not in {pk for pk, _ in choices}:
            batch = Batch.objects.filter(pk=chosen).first()
            choices.insert(0, (chosen, str(batch or f"Batch {chosen}")))
        return choices


class ServiceFilter(IdFilter):
    """The services of recent batches, not all ~240 of the catalogue."""

    title = "service"
    parameter_name = "service__id__exact"
    field = "service_id"

    def lookups(self, request, model_admin):
        recent = Batch.objects.order_by("-created_at").values("service_id")[:50]
        services = Service.objects.filter(Q(pk__in=recent) | Q(pk=self.chosen() or 0))
        return [(str(s.pk), f"{s.title} ({s.pk})") for s in services]


class RecentValueFilter(FieldValueFilter):
    """The most frequent values of one result field among the last 30 days' orders."""

    def lookups(self, request, model_admin):
        since = timezone.now() - timedelta(days=RECENT_DAYS)
        rows = (
            Order.objects.filter(created_at__gte=since)
            .exclude(**{self.field: ""})
            .order_by()
            .values_list(self.field)
            .annotate(n=Count("id"))
            .order_by("-n")[:MAX_VALUES]
        )
        choices = [(value, value) for value, _ in rows]
        if self.value() and self.value() not in {v for v, _ in choices}:
            choices.insert(0, (self.value(), self.value()))
        return choices


class CarrierFilter(RecentValueFilter):
    title = parameter_name = field = "carrier"


class SimlockFilter(RecentValueFilter):
    title = "SIM lock"
    parameter_name = field = "simlock"


class FmiFilter(RecentValueFilter):
    title = "Find My iPhone"
    parameter_name = field = "fmi"


ORDER_FILTERS = [
    "status",
    BatchFilter,
    ServiceFilter,
    CarrierFilter,
    SimlockFilter,
    FmiFilter,
    HasErrorFilter,
    StuckFilter,
    ImeiListFilter,
]
