"""The provider's answers to record, as the set-wise writes take them (`Order.objects`)."""

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .statuses import Status, StatusGroups

if TYPE_CHECKING:
    from .order import Order


@dataclass
class Placed:
    """A placeorder answer to record: its order, the provider's id, first status and words."""

    order: "Order"
    remote_id: int
    remote_status: str
    raw: str = ""
    latency: float | None = None

    @property
    def status(self):
        """Pending, or in process if the provider said so; never final: polling brings that."""
        status = StatusGroups.REMOTE_STATUSES.get(self.remote_status.strip().lower())
        return status if status in StatusGroups.AWAITING_RESULT_STATUSES else Status.PENDING


@dataclass
class Polled:
    """A getimeis answer to record: its order, the provider's status, result code and words."""

    order: "Order"
    remote_status: str
    code: str
    raw: str = ""
    parsed: dict | None = None  # the code's fields (submissions.provider.results.parse_result)

    @property
    def status(self):
        """Where it takes the order; None for a status word we do not know."""
        return StatusGroups.REMOTE_STATUSES.get(self.remote_status.strip().lower())

    def changes(self, now):
        """The order's fields once moved to `status`."""
        fields = {"status": self.status, "result_code": self.code}
        if self.status in StatusGroups.RESULT_STATUSES:
            fields.update(finished_at=now, next_poll_at=None, **(self.parsed or {}))
            if self.status == Status.REJECTED:
                fields["last_error"] = f"Rejected by the provider: {self.code or 'no reason given'}"
        return fields
