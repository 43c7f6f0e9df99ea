"""Account-wide refusals: an empty balance, a disabled service, a suspended account.

The provider's words for these were never captured (docs/provider-protocol.md), so they are
recognised by their shape, not their text. Rule (docs/architecture.md, "Unattended
operation"): a refusal is account-wide when
- it speaks of balance, credit or funds: at once, on the first order; or
- the same text refused REFUSAL_STREAK different orders in a row, with no order placed in
  between that was sent after the first of them.
Then sending stops, the refused orders go back to `queued` (a refusal is not charged), and
every live batch is paused with the provider's own words and what to do. Resume sends them.
"""

import logging
import re

from django.conf import settings
from django.db import transaction

from orders.models import Batch, Order

from .claims import pause_live_batches

log = logging.getLogger(__name__)

MONEY_WORDS = re.compile(r"balance|credit|funds?\b", re.IGNORECASE)
NOTE = (
    "The provider refused our orders: “{}”. Nothing was charged for them; they are queued "
    "again. Fix the account (top up the balance, enable the service), then resume."
)
REQUEUED = "Refused by the provider for the whole account (not charged): “{}”. Queued again."


class RefusalWatch:
    """Counts the same refusal for different orders in a row (the driver's memory)."""

    def __init__(self):
        self.text = None
        self.order_ids = set()
        self.started = None

    def refused(self, order_id, text, sent_at):
        """Record one refusal; True when it is account-wide."""
        if MONEY_WORDS.search(text):
            return True
        if text != self.text:
            self.text, self.order_ids, self.started = text, set(), sent_at
        self.order_ids.add(order_id)
        return len(self.order_ids) >= settings.REFUSAL_STREAK

    def placed(self, sent_at):
        """An order was placed: a call sent after the streak began breaks it."""
        if self.started is not None and sent_at >= self.started:
            self.text, self.order_ids, self.started = None, set(), None


def stop_sending(text):
    """Pause the live batches with the provider's words; re-queue what this text failed.

    Returns how many batches were paused. Orders it failed before the rule tripped (the first
    of the streak, or in an earlier driver) were not charged either: they are queued again.
    """
    with transaction.atomic():
        failed = Order.objects.filter(
            status=Order.Status.FAILED, last_error=text, batch__state__in=Batch.LIVE_STATES
        )
        requeued = sum(order.requeue_not_placed(REQUEUED.format(text)) for order in failed)
        paused = pause_live_batches(NOTE.format(text))
    log.error(
        "The provider refused our orders account-wide (%s): paused %d batches, %d failed "
        "orders queued again",
        text,
        paused,
        requeued,
    )
    return paused


def resumed():
    """After an account-wide refusal: is there anything to send again (someone resumed)?"""
    return Order.objects.due_for_submit().exists()
