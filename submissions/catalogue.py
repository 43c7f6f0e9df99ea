"""The service catalogue: the provider's `imeiservices` mirrored into orders.Service."""

from datetime import timedelta

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from orders.models import Service

from . import pricerise
from .provider import GsmFusionClient, ProviderError

FIELDS = ("title", "category", "price", "delivery_time", "must_read", "active")


def sync_services(client=None):
    """Upsert every listed service by id and mark the vanished ones inactive.

    Returns {"created": n, "updated": n, "deactivated": n}; `updated` counts rows whose
    fields changed (or that came back). An empty catalogue raises instead of deactivating
    everything: it is far more likely a provider fault than a real change.
    """
    own_client = client is None
    client = client or GsmFusionClient.from_settings()
    try:
        entries = client.list_services()
    finally:
        if own_client:
            client.close()
    if not entries:
        raise ProviderError(ProviderError.PERMANENT, "The provider listed no services")
    return _store(entries, timezone.now())


@transaction.atomic
def _store(entries, now):
    existing = Service.objects.select_for_update().in_bulk([e.id for e in entries])
    new, changed, risen = [], [], []
    for entry in entries:
        values = _values(entry)
        service = existing.get(entry.id)
        if service is None:
            new.append(Service(id=entry.id, synced_at=now, **values))
            continue
        if any(getattr(service, name) != value for name, value in values.items()):
            changed.append(service)
        if values["price"] > service.price:
            risen.append((service, service.price))
        for name, value in {**values, "synced_at": now}.items():
            setattr(service, name, value)
    Service.objects.bulk_create(new)
    Service.objects.bulk_update(existing.values(), [*FIELDS, "synced_at"])
    for service, old_price in risen:
        pricerise.rose(service, old_price, now)
    listed = [e.id for e in entries]
    vanished = Service.objects.filter(active=True).exclude(id__in=listed)
    return {
        "created": len(new),
        "updated": len(changed),
        "deactivated": vanished.update(active=False),
        "price_rises": len(risen),
    }


def _values(entry):
    return {
        "title": entry.title[:500],
        "category": entry.category[:500],
        "price": entry.price,
        "delivery_time": entry.delivery_time[:200],
        "must_read": entry.must_read,
        "active": True,
    }


def refresh_if_stale(max_age=timedelta(hours=6), client=None):
    """Sync when there are no services or the newest sync is older than `max_age`.

    Returns the counts of `sync_services`, or None when the catalogue is fresh enough.
    """
    newest = Service.objects.aggregate(newest=Max("synced_at"))["newest"]
    if newest is not None and timezone.now() - newest <= max_age:
        return None
    return sync_services(client)
