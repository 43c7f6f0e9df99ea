"""The driver lease on the Dispatcher row: at most one driver claims orders at a time.

A lease is a token and an expiry written by a conditional UPDATE, so taking it is atomic on
every database. The holder renews it every few seconds; a killed driver simply stops renewing
and its lease lapses after LEASE_SECONDS, when the next driver may take over. Expiry is set
and compared by the database's clock, so hosts whose clocks disagree still agree on leases.
"""

import uuid
from datetime import timedelta

from django.db.models import Q
from django.db.models.functions import Now

from orders.bulk import from_now

from ..models import Dispatcher

LEASE_SECONDS = 30


def acquire():
    """The new lease's token, or None when another driver holds a live lease."""
    Dispatcher.get()  # the row must exist for the conditional UPDATE to find it
    token = uuid.uuid4()
    free = Q(driver_token__isnull=True) | Q(driver_expires_at__lt=Now())
    taken = Dispatcher.row().filter(free).update(driver_token=token, driver_expires_at=expiry())
    return token if taken else None


def renew(token):
    """Extend our lease; False means it lapsed and another driver took it."""
    renewed = Dispatcher.row().filter(driver_token=token).update(driver_expires_at=expiry())
    return bool(renewed)


def release(token):
    Dispatcher.row().filter(driver_token=token).update(driver_token=None, driver_expires_at=None)


def is_live():
    return (
        Dispatcher.row().filter(driver_token__isnull=False, driver_expires_at__gte=Now()).exists()
    )


def expiry():
    return from_now(timedelta(seconds=LEASE_SECONDS))
