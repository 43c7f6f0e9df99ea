"""Stuck orders: open longer than twice what their service's delivery time promises."""

import re
from collections import defaultdict
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from .models import Service

STUCK_FALLBACK = timedelta(hours=1)
UNITS = {"min": 60, "hour": 3600, "hr": 3600, "day": 86400, "week": 7 * 86400}


def parse_delivery_time(text, fallback=STUCK_FALLBACK):
    """The longest time a delivery-time text promises: "1-3 Days" -> 3 days.

    "Instant-5 Minutes" -> 5 minutes, "24 Hours" -> 24 hours; `fallback` when no number and
    unit can be read ("Instant", "", "Varies").
    """
    lowered = (text or "").lower()
    numbers = [int(n) for n in re.findall(r"\d+", lowered)]
    unit = next((seconds for word, seconds in UNITS.items() if word in lowered), None)
    if not numbers or unit is None:
        return fallback
    return timedelta(seconds=max(numbers) * unit)


def stuck_condition(now=None):
    """Q: created (and, if re-submitted, re-submitted) before now - 2 x its service's delivery
    time; one clause per distinct time. A re-submitted order's age counts from the re-submit,
    not from its first, long-gone try."""
    now = now or timezone.now()
    by_limit = defaultdict(list)
    for service_id, delivery_time in Service.objects.values_list("id", "delivery_time"):
        by_limit[parse_delivery_time(delivery_time)].append(service_id)
    condition = Q(pk__in=[])
    for limit, ids in by_limit.items():
        cut = now - 2 * limit
        fresh = Q(resubmitted_at__isnull=True) | Q(resubmitted_at__lt=cut)
        condition |= Q(service_id__in=ids, created_at__lt=cut) & fresh
    return condition
