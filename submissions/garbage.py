"""The breaker for paid garbage: a service whose results are worth nothing stops being sent.

The outage breaker (breaker.py) never sees these calls: they "succeed", are charged, and
complete with an empty, "Unknown" or unparseable result. Polling hands every chunk's newly
completed orders to `record_results`; each service keeps its last GARBAGE_WINDOW verdicts
(a ServiceHold row). When more than GARBAGE_PERCENT of that window is garbage (counted against
the whole window, so a few early results cannot trip it), the service is paused: the claim
skips its batches (`claims.queued_batches`), calls already in flight finish, an alert shows
examples, and an operator resumes it (`resume`), which starts a fresh window.
"""

import logging
import re

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from orders.models import Order

from .models import ServiceHold
from .provider.results import pairs

log = logging.getLogger(__name__)

GARBAGE, FINE = "x", "."
EXAMPLES = 5  # kept per service, newest last
JUNK_VALUES = {"unknown", "n/a", "na", "none", "null", "error", "-", "?", "..."}
_MEANINGFUL_RE = re.compile(r"[^\W_]")  # a letter or a digit, in any script


def is_garbage(code):
    """Empty, only "Unknown"-like values, or no letter or digit at all (unparseable)."""
    values = [value for _, value in pairs(code)]
    if not values or "\ufffd" in (code or ""):
        return True
    if not any(_MEANINGFUL_RE.search(value) for value in values):
        return True
    return all(value.strip().lower() in JUNK_VALUES for value in values)


def paused_services():
    """The ids of paused services, as a subquery for the claim."""
    return ServiceHold.objects.filter(paused_at__isnull=False).values("service_id")


def record_results(orders):
    """Judge the completed ones among `orders` (just moved); returns the services paused."""
    by_service = {}
    for order in sorted(orders, key=lambda o: o.pk):
        if order.status == Order.Status.COMPLETED:
            by_service.setdefault(order.service_id, []).append(order)
    return [sid for sid, done in sorted(by_service.items()) if record_service(sid, done)]


def record_service(service_id, orders):
    """Add the verdicts to the service's window; pause it once the window holds too many."""
    with transaction.atomic():
        hold = ServiceHold.objects.select_for_update().filter(service_id=service_id).first()
        hold = hold or ServiceHold.objects.create(service_id=service_id)
        bad = [order for order in orders if is_garbage(order.result_code)]
        verdicts = "".join(GARBAGE if is_garbage(o.result_code) else FINE for o in orders)
        hold.recent = (hold.recent + verdicts)[-settings.GARBAGE_WINDOW :]
        hold.examples = (hold.examples + [example(order) for order in bad])[-EXAMPLES:]
        tripped = hold.paused_at is None and over_limit(hold.recent)
        if tripped:
            hold.paused_at, hold.reason = timezone.now(), reason(hold.recent)
            log.warning("Service %s paused: %s", service_id, hold.reason)
        hold.save()
    return tripped


def over_limit(recent):
    return recent.count(GARBAGE) * 100 > settings.GARBAGE_PERCENT * settings.GARBAGE_WINDOW


def reason(recent):
    return (
        f"{recent.count(GARBAGE)} of its last {len(recent)} completed results were empty, "
        f'"Unknown" or unparseable (the limit: {settings.GARBAGE_PERCENT}% of '
        f"{settings.GARBAGE_WINDOW}). Its orders are not sent until an operator resumes it."
    )


def example(order):
    return {"order": order.pk, "imei": order.imei, "code": (order.result_code or "")[:200]}


def resume(service_id, user=None):
    """Send the service's orders again, with a fresh window; False if it was not paused."""
    paused = ServiceHold.objects.filter(service_id=service_id, paused_at__isnull=False)
    return bool(
        paused.update(
            paused_at=None, resumed_at=timezone.now(), resumed_by=user, recent="", examples=[]
        )
    )


def describe(hold):
    """One line for the alert: the service, why, and its examples."""
    shown = "; ".join(
        f"order {e['order']} (IMEI {e['imei']}): {e['code']!r}" for e in hold.examples
    )
    return f"Service {hold.service_id} ({hold.service.title}): {hold.reason} Examples: {shown}"
