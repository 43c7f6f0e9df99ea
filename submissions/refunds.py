"""Refunds: which rejected orders the account did not pay for (docs/statement.md).

The provider's answers carry no price and no refund flag, so the rule reads what there is:
a Rejected order is refunded unless the rejection's code or the service's price list
(`MustRead`) says "no refund"; a code that speaks of a refund is a refund. REFUND_REJECTED=0
turns the default round (only a code that says "refund" counts). The spend figures and the
daily statement both use this one rule, on orders (`refunded_q`) and on provider answers
(`is_refunded`).
"""

import re

from django.conf import settings
from django.db.models import Q

from orders.models import Order

NO_REFUND = r"no[ -]?refund|non[ -]?refundable|not refund"
REFUND = r"refund"
_NO_REFUND_RE = re.compile(NO_REFUND, re.IGNORECASE)
_REFUND_RE = re.compile(REFUND, re.IGNORECASE)


def is_refunded(rejected, code, must_read):
    """Was this order's price given back? `rejected`: its status is Rejected."""
    if not rejected or _NO_REFUND_RE.search(code or ""):
        return False
    if _REFUND_RE.search(code or ""):
        return True
    return settings.REFUND_REJECTED and not _NO_REFUND_RE.search(must_read or "")


def refunded_q():
    """The same rule as a filter on orders."""
    rejected = Q(status=Order.Status.REJECTED) & ~Q(result_code__iregex=NO_REFUND)
    if not settings.REFUND_REJECTED:
        return rejected & Q(result_code__iregex=REFUND)
    return rejected & (Q(result_code__iregex=REFUND) | ~Q(service__must_read__iregex=NO_REFUND))
