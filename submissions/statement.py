"""The daily statement: the provider's books against ours, every day, read-only.

For a day (local to TIME_ZONE) the portal reads back with `getimeis` (statement_read.py):
1. every order it recorded that day (placed that day: `submitted_at`, with a provider id);
2. every id window of an order that was unknown at any moment that day (reconcile.py's
   windows: only a lost answer can leave a charge without a record, so one can hide there).
Then each order is one of:
- matched: same IMEI, status and amount on both sides;
- provider only: answered by the provider inside a window, recorded here under no order (the
  money leak: charged, no record); a charged duplicate of ours for its IMEI and service (its
  id lost) matches it instead;
- portal only: recorded here with a provider id the provider does not answer for;
- amount or status: both know it, they differ.
An amount is the service's price, nothing when refunded (refunds.py); the provider's side
takes the price from the catalogue by its package title, ours is the order's recorded cost.
Totals: what the provider charged, what we recorded, refunds on each side, the difference.
A run is kept with its lines that are not a plain match (StatementRun, StatementLine); a
day that does not match raises the "statement" alert (alerts.py) until someone reviews it.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from orders.models import Order, OrderEvent, Service

from . import statement_read
from .driver import reconcile
from .models import StatementLine, StatementRun
from .provider import GsmFusionClient
from .refunds import is_refunded

log = logging.getLogger(__name__)

Kind = StatementLine.Kind
ROW_FIELDS = ("id", "remote_id", "imei", "service_id", "status", "cost")
ZERO = Decimal("0.00")


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
    window = reconcile.window_of(order, sent, lost) if sent else "no record of its call"
    if isinstance(window, str):
        result.notes.append(f"Order {order.pk} (unknown at {lost.at:%H:%M:%S}): {window}.")
        return
    result.window_ids.update(window.ids)
    row = {name: getattr(order, name) for name in ROW_FIELDS}
    result.lost[(order.imei, order.service_id)] = row


@dataclass
class Books:
    """The comparison being built: lines and the two sides' totals."""

    services: dict  # id -> Service
    by_title: dict  # title -> Service
    lines: list = field(default_factory=list)
    matched: int = 0
    provider: Decimal = ZERO
    provider_refunds: Decimal = ZERO
    portal: Decimal = ZERO
    portal_refunds: Decimal = ZERO

    def provider_amount(self, remote, service):
        """(charged, refunded) for a provider order, priced from the catalogue."""
        price = service.price if service else ZERO
        if is_refunded(remote.status.strip().lower() == "rejected", service):
            return ZERO, price
        return price, ZERO

    def portal_amount(self, row):
        service = self.services.get(row["service_id"])
        if is_refunded(row["status"] == Order.Status.REJECTED, service):
            return ZERO, row["cost"]
        return row["cost"], ZERO

    def count_provider(self, remote, service):
        charged, refunded = self.provider_amount(remote, service)
        self.provider += charged
        self.provider_refunds += refunded
        return charged

    def count_portal(self, row):
        paid, refunded = self.portal_amount(row)
        self.portal += paid
        self.portal_refunds += refunded
        return paid


def compare(planned, reading):
    services = Service.objects.in_bulk()
    books = Books(services, {s.title: s for s in services.values()})
    for remote_id, row in planned.orders.items():
        if remote_id not in reading.unread:
            compare_order(books, row, reading.found.get(remote_id))
    strays = {i: r for i, r in reading.found.items() if i in planned.window_ids}
    known = Order.objects.filter(remote_id__in=list(strays)).values_list("remote_id", flat=True)
    for remote_id in sorted(set(strays) - set(planned.orders) - set(known)):
        compare_stray(books, planned, strays[remote_id])
    return books


def compare_order(books, row, remote):
    """One of our orders against the provider's answer for its id (None: absent)."""
    if remote is None:
        paid = books.count_portal(row)
        books.lines.append(line(Kind.PORTAL_ONLY, row, None, ZERO, paid, "getimeis: no such id"))
        return
    service = books.services.get(row["service_id"])
    charged, paid = books.count_provider(remote, service), books.count_portal(row)
    status = Order.REMOTE_STATUSES.get(remote.status.strip().lower())
    if charged != paid:
        books.lines.append(line(Kind.AMOUNT, row, remote, charged, paid))
    elif remote.imei != row["imei"]:
        books.lines.append(line(Kind.STATUS, row, remote, charged, paid, "the IMEI differs"))
    elif not same_status(status, row["status"]):
        books.lines.append(line(Kind.STATUS, row, remote, charged, paid, status_note(row)))
    else:
        books.matched += 1


def same_status(remote_status, status):
    awaiting = Order.AWAITING_RESULT_STATUSES
    return remote_status == status or (remote_status in awaiting and status in awaiting)


def status_note(row):
    if row["status"] in Order.AWAITING_RESULT_STATUSES:
        return "its result is not recorded here yet (polled later)"
    return ""


def compare_stray(books, planned, remote):
    """A provider order inside an unknown spell's window that no order here holds."""
    service = books.by_title.get(remote.package)
    ours = planned.lost.get((remote.imei, service.pk if service else None))
    charged = books.count_provider(remote, service)
    if ours and ours["remote_id"] is None and ours["cost"] > 0:
        books.count_portal(ours)  # a charged duplicate: its charge recorded, its id lost
        books.matched += 1
        return
    note = "charged by the provider; its answer never reached us"
    if ours:
        note += f" (our order {ours['id']} for this IMEI is {ours['status']})"
    books.lines.append(line(Kind.PROVIDER_ONLY, ours, remote, charged, ZERO, note))


def line(kind, row, remote, provider_amount, portal_amount, note=""):
    row = row or {}
    return StatementLine(
        kind=kind,
        order_id=row.get("id"),
        remote_id=remote.remote_id if remote else row.get("remote_id"),
        imei=remote.imei if remote else row.get("imei", ""),
        service=remote.package if remote else "",
        provider_status=remote.status if remote else "",
        portal_status=row.get("status", "") if kind != Kind.PROVIDER_ONLY else "",
        provider_amount=provider_amount,
        portal_amount=portal_amount,
        note=note,
    )


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
