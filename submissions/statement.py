"""The daily statement: the provider's books against ours, every day, read-only.

For a day (local to TIME_ZONE) the portal reads back with `getimeis` (statement_read.py):
1. every order it recorded that day (placed that day: `submitted_at`, with a provider id);
2. every id window of an order that was unknown at any moment that day (id_window.py's
   windows: only a lost answer can leave a charge without a record, so one can hide there).
Then each order is classed (statement_compare.py): matched, provider only (the money leak:
charged, no record), portal only, or differing in amount or status.
A run is kept with its lines that are not a plain match (StatementRun, StatementLine); a
day that does not match raises the "statement" alert (alert_conditions.py) until someone reviews it.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from django.conf import settings
from django.utils import timezone

from orders.models import Order, OrderEvent

from . import statement_read
from .driver import id_window
from .models import StatementLine, StatementRun
from .provider import GsmFusionClient
from .statement_compare import compare

log = logging.getLogger(__name__)

Kind = StatementLine.Kind
ROW_FIELDS = ("id", "remote_id", "imei", "service_id", "status", "cost")


def bounds(day):
    start = timezone.make_aware(datetime.combine(day, time.min))
    return start, start + timedelta(days=1)


@dataclass
class Plan:
    """What to read for a day: our orders by provider id, the unknown spells' windows."""

    orders: dict  # remote_id -> order row (a dict of ROW_FIELDS)
    window_ids: set = field(default_factory=set)
    lost: dict = field(default_factory=dict)  # (imei, service_id) -> the unknown order's row
    notes: list = field(default_factory=list)

    @property
    def ids(self):
        return set(self.orders) | self.window_ids


def plan(day):
    start, end = bounds(day)
    recorded = Order.objects.filter(
        submitted_at__gte=start, submitted_at__lt=end, remote_id__isnull=False
    )
    result = Plan({row["remote_id"]: row for row in recorded.values(*ROW_FIELDS)})
    spells = OrderEvent.objects.filter(to_status=Order.Status.UNKNOWN, at__gte=start, at__lt=end)
    spells = spells.exclude(from_status=Order.Status.UNKNOWN).select_related("order__service")
    for lost in spells.order_by("at", "id"):
        add_window(result, lost)
    return result


def add_window(result, lost):
    """The window of one unknown spell (its call, by its events), or a note why not."""
    order = lost.order
    sent = (
        OrderEvent.objects.filter(order=order, to_status=Order.Status.SUBMITTING, at__lte=lost.at)
        .order_by("-at", "-id")
        .first()
    )
    window = id_window.window_of(order, sent, lost) if sent else "no record of its call"
    if isinstance(window, str):
        result.notes.append(f"Order {order.pk} (unknown at {lost.at:%H:%M:%S}): {window}.")
        return
    result.window_ids.update(window.ids)
    row = {name: getattr(order, name) for name in ROW_FIELDS}
    result.lost[(order.imei, order.service_id)] = row


def run_day(day, client=None, clock=None):
    """Read, compare and store one day's statement; returns the StatementRun."""
    statement_run = StatementRun.objects.create(day=day)
    planned = plan(day)
    own_client = client is None
    client = client or GsmFusionClient.from_settings()
    try:
        pacer = statement_read.Pacer(settings.STATEMENT_CALLS_PER_SECOND, clock)
        reading = statement_read.read(client, planned.ids, settings.STATEMENT_CONCURRENCY, pacer)
    finally:
        if own_client:
            client.close()
    return store(statement_run, planned, reading, compare(planned, reading))


def store(statement_run, planned, reading, books):
    for item in books.lines:
        item.run = statement_run
    StatementLine.objects.bulk_create(books.lines)
    counts = {kind: sum(item.kind == kind for item in books.lines) for kind in Kind.values}
    unread = len(reading.unread)
    notes = [*planned.notes, *([f"{unread} ids could not be read."] if unread else [])]
    fields = {
        "finished_at": timezone.now(),
        "matched": books.matched,
        "provider_only": counts[Kind.PROVIDER_ONLY],
        "portal_only": counts[Kind.PORTAL_ONLY],
        "mismatched": counts[Kind.AMOUNT] + counts[Kind.STATUS],
        "unread": unread,
        "ids_read": len(planned.ids) - unread,
        "calls": reading.calls,
        "provider_charged": books.provider,
        "provider_refunds": books.provider_refunds,
        "portal_recorded": books.portal,
        "portal_refunds": books.portal_refunds,
        "difference": books.provider - books.portal,
        "note": "\n".join(notes),
    }
    fields["outcome"] = outcome(books, fields)
    for name, value in fields.items():
        setattr(statement_run, name, value)
    statement_run.save()
    log.info("Statement %s: %s", statement_run.day, summary(statement_run))
    return statement_run


def outcome(books, fields):
    if books.lines or fields["difference"]:
        return StatementRun.Outcome.MISMATCH
    if fields["unread"] or fields["note"]:
        return StatementRun.Outcome.INCOMPLETE
    return StatementRun.Outcome.MATCHED


def summary(run):
    return (
        f"{run.get_outcome_display()}: provider charged ${run.provider_charged}, we recorded "
        f"${run.portal_recorded} (difference ${run.difference}); {run.matched} matched, "
        f"{run.provider_only} provider only, {run.portal_only} portal only, "
        f"{run.mismatched} differing"
    )


def run_range(first, last, client=None):
    """One run per day from `first` to `last`, inclusive."""
    days = (last - first).days + 1
    return [run_day(first + timedelta(days=n), client) for n in range(days)]


def latest_runs(days=7, today=None):
    """The newest run of each of the last `days` days, newest day first."""
    today = today or timezone.localdate()
    runs = StatementRun.objects.filter(
        day__gt=today - timedelta(days=days), finished_at__isnull=False
    )
    newest = {}
    for run in runs.order_by("-day", "-started_at"):
        newest.setdefault(run.day, run)
    return list(newest.values())
