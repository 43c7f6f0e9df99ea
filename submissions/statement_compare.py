"""The daily statement's comparison: each order read back against our record of it.

Each order is one of:
- matched: same IMEI, status and amount on both sides;
- provider only: answered by the provider inside a window, recorded here under no order (the
  money leak: charged, no record); a charged duplicate of ours for its IMEI and service (its
  id lost) matches it instead;
- portal only: recorded here with a provider id the provider does not answer for;
- amount or status: both know it, they differ.
An amount is the service's price, nothing when refunded (refunds.py); the provider's side
takes the price from the catalogue by its package title, ours is the order's recorded cost.
Totals: what the provider charged, what we recorded, refunds on each side, the difference.
"""

from dataclasses import dataclass, field
from decimal import Decimal

from orders.models import Order, Service

from .models import StatementLine
from .refunds import is_refunded

Kind = StatementLine.Kind
ZERO = Decimal("0.00")


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
