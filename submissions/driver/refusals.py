"""Account-wide refusals: an empty balance, a disabled service, a suspended account.

The provider's words for these were never captured (docs/provider-protocol.md), so they are
recognised by their shape, not their text. Rule (docs/architecture.md, "Invariants"): a refusal
is account-wide when
- it speaks of balance, credit or funds: at once, on the first order; or
- the same text refused REFUSAL_STREAK different IMEIs in the order they were sent, with no
  success between them: every order sent between the first and the last of them has answered,
  and none was placed. While one of those is still in flight, nothing is decided.
Then sending stops, the refused orders go back to `queued` (a refusal is not charged), and
every live batch is paused with the provider's own words and what to do. Resume sends them.
Any other refusal is the order's own (an invalid IMEI for this service, an IMEI already in
process): that order fails with the provider's words and sending goes on. An order re-queued
by an account-wide refusal and refused again with the same words after a resume is refused
for itself: it fails alone, so a few bad IMEIs cannot pause the batches again and again.

The streak and the refusal in force live on the Dispatcher row, locked while they are read
and written: every driver (a successor, a predecessor still draining) follows the same state.
Send order is the claim's moment by the database's clock (`claimed_at`, the claim events).
"""

import logging
import re

from django.conf import settings
from django.db import transaction

from orders.models import Batch, Order, OrderEvent

from ..models import Dispatcher
from .claims import lock_dispatcher, pause_live_batches

log = logging.getLogger(__name__)

MONEY_WORDS = re.compile(r"balance|credit|funds?\b", re.IGNORECASE)
NOTE = (
    "The provider refused our orders: “{}”. Nothing was charged for them; they are queued "
    "again. Fix the account (top up the balance, enable the service), then resume."
)
REQUEUED = "Refused by the provider for the whole account (not charged): “{}”. Queued again."

ORDER, ACCOUNT, ACCOUNT_NOW = "order", "account", "account, from now"


def judge(order, text):
    """Whose fault is this refusal of `order`'s call: ORDER, ACCOUNT (already in force), or
    ACCOUNT_NOW (this refusal completes the streak: the caller stops sending).

    In the caller's transaction; takes the Dispatcher row lock.
    """
    row = lock_dispatcher()
    if row.refused_account_wide and row.refused_account_wide == text:
        return ACCOUNT
    if MONEY_WORDS.search(text):
        return declare(row, text)
    sent_at = getattr(order, "claimed_at", None)
    if sent_at is None or refused_before(order, text):
        return ORDER
    extend_streak(row, order, text, sent_at)
    if len(row.refusal_imeis) >= settings.REFUSAL_STREAK and nothing_between(row, order):
        return declare(row, text)
    row.save(update_fields=STREAK_FIELDS)
    return ORDER


STREAK_FIELDS = [
    "refusal_text",
    "refusal_first_sent_at",
    "refusal_first_order_id",
    "refusal_last_sent_at",
    "refusal_last_order_id",
    "refusal_imeis",
]


def refused_before(order, text):
    """Was this order re-queued once for this very refusal? Then it is refused for itself."""
    return OrderEvent.objects.filter(order=order, detail=REQUEUED.format(text)).exists()


def extend_streak(row, order, text, sent_at):
    """Add this refusal to the streak of `text`, or start one; a placed order sent between
    its first refusal and this one breaks it. A send's place: (claimed at, order id)."""
    sent = (sent_at, order.pk)
    first, last = (
        (row.refusal_first_sent_at, row.refusal_first_order_id),
        (
            row.refusal_last_sent_at,
            row.refusal_last_order_id,
        ),
    )
    if row.refusal_text == text and not placed_between(*sorted([first, sent])):
        first, last = min(first, sent), max(last, sent)
        imeis = sorted({*row.refusal_imeis, order.imei})
    else:
        first = last = sent
        imeis = [order.imei]
    row.refusal_text, row.refusal_imeis = text, imeis
    row.refusal_first_sent_at, row.refusal_first_order_id = first
    row.refusal_last_sent_at, row.refusal_last_order_id = last


def sent_between(first, last):
    """Ids of the orders claimed (sent, or about to be) from send `first` to `last`."""
    claims = OrderEvent.objects.filter(
        to_status=Order.Status.SUBMITTING,
        from_status=Order.Status.QUEUED,
        at__range=(first[0], last[0]),
    )
    return [pk for at, pk in claims.values_list("at", "order_id") if first <= (at, pk) <= last]


def placed_between(first, last, sent=None):
    """Was an order sent from `first` to `last` placed? `sent`: their ids, if read already."""
    placed = OrderEvent.objects.filter(
        order_id__in=sent_between(first, last) if sent is None else sent,
        from_status__in=[Order.Status.SUBMITTING, Order.Status.UNKNOWN],
        to_status__in=Order.AWAITING_RESULT_STATUSES,
        at__gte=first[0],
    )
    return placed.exists()


def nothing_between(row, order):
    """Every order sent within the streak (but `order`, being judged) has answered, and none
    was placed."""
    first = (row.refusal_first_sent_at, row.refusal_first_order_id)
    last = (row.refusal_last_sent_at, row.refusal_last_order_id)
    sent = sent_between(first, last)
    in_flight = Order.objects.in_flight().filter(pk__in=sent).exclude(pk=order.pk)
    return not in_flight.exists() and not placed_between(first, last, sent)


def declare(row, text):
    row.refused_account_wide, row.refusal_text, row.refusal_imeis = text, "", []
    row.refusal_first_sent_at = row.refusal_last_sent_at = None
    row.refusal_first_order_id = row.refusal_last_order_id = None
    row.save(update_fields=["refused_account_wide", *STREAK_FIELDS])
    return ACCOUNT_NOW


def in_force():
    """The account-wide refusal's text while it holds, lifted once someone resumed."""
    text = Dispatcher.row().values_list("refused_account_wide", flat=True).first() or ""
    if text and resumed():
        Dispatcher.row().filter(refused_account_wide=text).update(refused_account_wide="")
        log.warning("Account-wide refusal lifted (batches resumed): %s", text)
        return ""
    return text


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
