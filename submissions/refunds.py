"""Refunds: which rejected orders the account did not pay for (docs/statement.md).

One rule, the spend ledger's (docs/spend.md): a Rejected order is refunded when its service's
price list says rejected orders are not charged (`Service.refunds_rejected`). The ledger's
trigger writes a `refund` line by it; the daily statement applies it to both sides (to the
provider's answers, `is_refunded`, and to our orders, `refunded_q`), and the spend-per-day
alert leaves refunded orders out.
"""

from django.db.models import Q

from orders.models import Order


def is_refunded(rejected, service):
    """Was this order's price given back? `rejected`: its status is Rejected."""
    return bool(rejected and service is not None and service.refunds_rejected)


def refunded_q():
    """The same rule as a filter on orders."""
    return Q(status=Order.Status.REJECTED, service__refunds_rejected=True)
