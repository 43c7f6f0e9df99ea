"""Services, batches, orders and each order's timeline, one module per concern.

`Order.status` moves only through the transition methods on `Order` (order.py); many orders at
once only through `Order.objects` (manager.py). See docs/architecture.md for the state diagram.
"""

from .answers import Placed, Polled
from .batch import Batch
from .counts import BatchStatusCount
from .events import OrderEvent, latency_ms
from .manager import OrderQuerySet
from .order import Order
from .service import Service

__all__ = [
    "Batch",
    "BatchStatusCount",
    "Order",
    "OrderEvent",
    "OrderQuerySet",
    "Placed",
    "Polled",
    "Service",
    "latency_ms",
]
