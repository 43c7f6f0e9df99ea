"""An order's statuses and the status groups: the one definition every page, count and query
uses, reached through the model (`Order.Status`, `Order.OPEN_STATUSES`, ...)."""

from django.db import models


class Status(models.TextChoices):
    QUEUED = "queued", "Queued"
    SUBMITTING = "submitting", "Submitting"
    PENDING = "pending", "Pending"
    IN_PROCESS = "in_process", "In process"
    COMPLETED = "completed", "Completed"
    REJECTED = "rejected", "Rejected"
    DUPLICATE = "duplicate", "Duplicate"
    FAILED = "failed", "Failed"
    UNKNOWN = "unknown", "Unknown outcome"
    CANCELLED = "cancelled", "Cancelled"


class StatusGroups(models.Model):
    """The status groups and the provider's status words: an abstract model, so `Order` has
    them (`Order.OPEN_STATUSES`) and its migration state is unchanged."""

    # Not yet at the provider (or on its way there).
    UNSENT_STATUSES = [Status.QUEUED, Status.SUBMITTING]
    # Placed, its result not in yet: what polling asks about.
    AWAITING_RESULT_STATUSES = [Status.PENDING, Status.IN_PROCESS]
    # Open: the order still moves without anyone acting. Every other status is final.
    OPEN_STATUSES = [*UNSENT_STATUSES, *AWAITING_RESULT_STATUSES]
    # Placed at the provider, with its id.
    SENT_STATUSES = [*AWAITING_RESULT_STATUSES, Status.COMPLETED, Status.REJECTED]
    # Final and in need of a person: the only ones an operator re-submits.
    PROBLEM_STATUSES = [Status.FAILED, Status.UNKNOWN]
    # The provider may hold this IMEI for the service: a new order for it would be a duplicate.
    MAY_BE_PLACED_STATUSES = [*SENT_STATUSES, Status.SUBMITTING, Status.UNKNOWN]
    # Never placed and never will be: the IMEI may be ordered again.
    NOT_PLACED_STATUSES = [Status.FAILED, Status.CANCELLED]
    # Where a failed placeorder call takes an order (an event's `to_status`).
    CALL_ERROR_STATUSES = [Status.QUEUED, *PROBLEM_STATUSES]
    # Where any ended placeorder call takes an order (an event's `to_status`).
    CALL_OUTCOME_STATUSES = [s for s in Status.values if s not in ("submitting", "cancelled")]
    # The provider answered the call: placed, or refused as a duplicate.
    ANSWERED_STATUSES = [*SENT_STATUSES, Status.DUPLICATE]
    # A call on its way or a result to come: a driver still has work.
    IN_HAND_STATUSES = [Status.SUBMITTING, *AWAITING_RESULT_STATUSES]
    # The provider's final word on a placed order.
    RESULT_STATUSES = [Status.COMPLETED, Status.REJECTED]
    # The provider's status words (getimeis, placeorder) and where they take an order.
    REMOTE_STATUSES = {
        "pending": Status.PENDING,
        "in process": Status.IN_PROCESS,
        "completed": Status.COMPLETED,
        "rejected": Status.REJECTED,
    }

    class Meta:
        abstract = True
