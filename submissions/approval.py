"""Four eyes above APPROVAL_THRESHOLD: a batch whose cost exceeds it waits for a second person.

An import or re-submit over the threshold leaves its batch "awaiting approval" (not a live
state: no claim takes its orders). A different staff member with `orders.approve_batch`
approves it (-> queued, the driver sends it) or rejects it (-> cancelled, its queued orders
cancelled). Whoever imported or re-submitted it can never approve it. Each step is audited.
"""

from decimal import Decimal

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Sum

from orders.models import Batch, Order

from . import audit, driver, spend

APPROVE = "orders.approve_batch"
SELF_APPROVAL = "You imported or re-submitted this batch: another staff member must approve it."


def threshold():
    return spend.caps().approval_threshold


def hold_if_over(batch, cost, user, what):
    """Leave `batch` awaiting approval when `cost` exceeds the threshold; True if so."""
    limit = threshold()
    if limit is None or cost <= limit:
        return False
    note = (
        f"Awaiting approval: this {what} costs ${cost:,.2f}, over the approval threshold "
        f"(${limit:,.2f}). Another staff member with the approve permission must approve it."
    )
    return batch.await_approval(user, note)


def queued_cost(batch):
    """What the batch's queued orders cost at today's prices."""
    total = batch.orders.filter(status=Order.Status.QUEUED).aggregate(s=Sum("service__price"))
    return Decimal(total["s"] or 0).quantize(Decimal("0.01"))


def check_approver(batch, user):
    if not user.has_perm(APPROVE):
        raise PermissionDenied("You may not approve batches.")
    if batch.approval_requested_by_id == user.pk or (
        batch.approval_requested_by_id is None and batch.created_by_id == user.pk
    ):
        raise PermissionDenied(SELF_APPROVAL)


def approve(batch, user):
    """Awaiting approval -> queued; True if it moved. Refuses the requester's own batch."""
    check_approver(batch, user)
    with transaction.atomic():
        if not batch.approve(user):
            return False
        detail = f"Batch {batch.pk} approved (requested by {batch.approval_requested_by})."
        audit.record(user, "approve", detail, queued_cost(batch))
        transaction.on_commit(driver.enqueue)
    return True


def reject(batch, user):
    """Awaiting approval -> cancelled with its queued orders; True if it moved."""
    if not user.has_perm(APPROVE):
        raise PermissionDenied("You may not reject batches.")
    with transaction.atomic():
        cost = queued_cost(batch)
        if not batch.reject(user, f"Rejected by {user} (approval refused)."):
            return False
        queued = batch.orders.filter(status=Order.Status.QUEUED)
        cancelled = sum(order.cancel(actor=user) for order in queued)
        audit.record(
            user, "reject", f"Batch {batch.pk} rejected: {cancelled} orders cancelled.", cost
        )
    return True


def awaiting():
    return Batch.objects.filter(state=Batch.State.AWAITING_APPROVAL)
