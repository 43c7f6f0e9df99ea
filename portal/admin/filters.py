"""Filters of the order changelist: the questions operators ask all day.

Each lists its choices from a cheap query (recent batches, the last 10,000 orders), never from a
DISTINCT over the whole orders table, which grows by up to 30,000 rows a week.
"""

import re
from datetime import date, datetime, time, timedelta

from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.cache import cache
from django.db.models import Count, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from orders.models import Batch, Order, Service
from orders.stuck import parse_delivery_time, stuck_condition  # noqa: F401 (re-exported)

from .display import short_service_title
from .search import ImeiListFilter

RECENT_BATCHES = 15
RECENT_ORDERS = 10_000
VALUES_SECONDS = 60
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
        return [(str(s.pk), f"{short_service_title(s.title)} ({s.pk})") for s in services]


def recent_orders(count=RECENT_ORDERS):
    """The last `count` orders, as an id range read from the primary key's index.

    A bounded sample: with a year of orders, "the last 30 days" alone is 600,000 rows.
    """
    nth_newest = Order.objects.order_by("-pk").values("pk")[count - 1 : count]
    return Order.objects.filter(pk__gte=Coalesce(Subquery(nth_newest), 0))


def frequent_values(field):
    """The most frequent non-empty values of `field` among the last 10,000 orders.

    Kept a minute in the cache: every changelist view shows three of these lists, and they
    hardly change from one view to the next.
    """

    def compute():
        rows = (
            recent_orders()
            .exclude(**{field: ""})
            .order_by()
            .values_list(field)
            .annotate(n=Count("id"))
            .order_by("-n")[:MAX_VALUES]
        )
        return [value for value, _ in rows]

    return cache.get_or_set(f"orders:frequent-values:{field}", compute, VALUES_SECONDS)


class RecentValueFilter(FieldValueFilter):
    """The most frequent values of one result field among the last 10,000 orders."""

    def lookups(self, request, model_admin):
        choices = [(value, value) for value in frequent_values(self.field)]
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


class DateRangeFilter(admin.DateFieldListFilter):
    """Today, past 7 days, this month, this year (Django's links), or a range of dates.

    The range's `<field>__from` / `<field>__to` are local dates, both days included; the form
    under the links sends them along with the list's other filters.
    """

    template = "admin/portal/date_range_filter.html"

    def __init__(self, field, request, params, model, model_admin, field_path):
        self.lookup_kwarg_from = f"{field_path}__from"
        self.lookup_kwarg_to = f"{field_path}__to"
        self.range_from = params.get(self.lookup_kwarg_from, [""])[-1]
        self.range_to = params.get(self.lookup_kwarg_to, [""])[-1]
        super().__init__(field, request, params, model, model_admin, field_path)
        # Filters, search and ordering of the list, kept by the range form.
        self.kept_params = [
            (key, value)
            for key, values in request.GET.lists()
            if not key.startswith(self.field_generic) and key != "p"
            for value in values
        ]

    def expected_parameters(self):
        return [*super().expected_parameters(), self.lookup_kwarg_from, self.lookup_kwarg_to]

    def queryset(self, request, queryset):
        start = self.used_parameters.pop(self.lookup_kwarg_from, None)
        end = self.used_parameters.pop(self.lookup_kwarg_to, None)
        queryset = super().queryset(request, queryset)
        try:
            if start:
                since = local_midnight(start[-1])
                queryset = queryset.filter(**{f"{self.field_path}__gte": since})
            if end:
                until = local_midnight(end[-1], days_after=1)
                queryset = queryset.filter(**{f"{self.field_path}__lt": until})
        except IncorrectLookupParameters as exc:
            # The admin answers a bad lookup by showing the whole list (its "?e=1"): say why.
            messages.error(request, f"The date filter was not applied: {exc}.")
            raise
        return queryset


def local_midnight(text, days_after=0):
    """The start of a `YYYY-MM-DD` day (plus `days_after`) in the current time zone.

    A bad date, or one whose day after cannot be represented (9999-12-31 + 1), is a bad lookup.
    """
    try:
        day = date.fromisoformat(text) + timedelta(days=days_after)
    except ValueError as exc:
        raise IncorrectLookupParameters(f"{text!r} is not a date (YYYY-MM-DD)") from exc
    except OverflowError as exc:
        raise IncorrectLookupParameters(f"{text!r} is out of range") from exc
    try:
        return timezone.make_aware(datetime.combine(day, time.min))
    except OverflowError as exc:  # a year-1 day moved across the time zone
        raise IncorrectLookupParameters(f"{text!r} is out of range") from exc


ORDER_FILTERS = [
    ("created_at", DateRangeFilter),
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
