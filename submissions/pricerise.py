"""Prices that change under you: a price rise holds the service's batches until acknowledged.

The import's confirm page showed the old price. When a catalogue sync finds a service's price
went up, its live batches pause with a note saying so (an alert says so too, "Batches paused
by the portal"), and a `PriceRise` waits for someone with `acknowledge_pricerise`. Acknowledging
resumes the batches it paused (not those paused for another reason) and is audited.
"""

from django.db import transaction
from django.utils import timezone

from orders.models import Batch

from . import audit, driver
from .models import PriceRise

NOTE = "Held: the price of {service} rose from ${old} to ${new}; acknowledge the new price."
NOTE_PREFIX = "Held: the price of "


def rose(service, old_price, now=None):
    """Record the rise and hold the service's live batches; returns how many were held."""
    PriceRise.objects.create(
        service=service, old_price=old_price, new_price=service.price, detected_at=now
    )
    note = NOTE.format(service=service.title, old=old_price, new=service.price)
    live = Batch.objects.filter(service=service, state__in=Batch.LIVE_STATES)
    return sum(batch.pause(note) for batch in live)


def acknowledge(rise, user):
    """The new price is known: resume the batches the rise held; False if done already."""
    with transaction.atomic():
        moved = PriceRise.objects.filter(pk=rise.pk, acknowledged_at=None).update(
            acknowledged_by=user, acknowledged_at=timezone.now()
        )
        if not moved:
            return False
        held = Batch.objects.filter(
            service_id=rise.service_id,
            state=Batch.State.PAUSED,
            note__startswith=NOTE_PREFIX,
        )
        resumed = sum(batch.resume() for batch in held)
        detail = (
            f"New price of service {rise.service_id} acknowledged: ${rise.old_price} -> "
            f"${rise.new_price}; {resumed} batches resumed."
        )
        audit.record(user, "acknowledge_price", detail, rise.new_price)
        if resumed:
            transaction.on_commit(driver.enqueue)
    return True


def open_rises():
    return PriceRise.objects.filter(acknowledged_at=None).select_related("service")
