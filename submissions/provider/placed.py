"""What a placeorder answer means: the one order placed for our IMEI, or the error."""

import logging
from dataclasses import dataclass

from .errors import ProviderError, error_from_text

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PlacedOrder:
    remote_id: int
    imei: str
    status: str
    raw: str


def placed_order_from(answer, imei, raw):
    """The one order a placeorder answer must hold for `imei`, or the ProviderError it means.

    An order for our IMEI wins over any error text next to it: it was created and charged,
    so losing its id would be worse. Anything but exactly one order for our IMEI is
    UNKNOWN_OUTCOME (the provider once silently dropped IMEIs).
    """
    orders = answer.orders
    if len(orders) == 1 and orders[0].imei == imei:
        order = orders[0]
        if answer.errors:
            log.warning("placeorder for %s returned an order and errors: %s", imei, answer.errors)
        return PlacedOrder(remote_id=order.remote_id, imei=imei, status=order.status, raw=raw)
    if imei in answer.duplicates:
        message = "IMEI already exists! (listed under <imeiduplicates>)"
        raise ProviderError(ProviderError.DUPLICATE, message, raw)
    if answer.errors and not orders:
        raise error_from_text("; ".join(answer.errors), raw)
    found = ", ".join(f"{o.remote_id} for {o.imei}" for o in orders) or "none"
    message = f"placeorder for {imei} returned {len(orders)} orders ({found}): the order may exist"
    raise ProviderError(ProviderError.UNKNOWN_OUTCOME, message, raw)
