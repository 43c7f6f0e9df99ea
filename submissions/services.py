"""Use cases of the processing side, shared by the admin actions and the tasks.

Each changes state through the model transitions and starts background work only once its
transaction commits (`transaction.on_commit`), so a worker never looks for rows not yet
visible.
"""

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from orders.models import Batch, Order

from . import approval, audit, driver
from .driver import polling


def batch_created(batch, user=None, cost=None):
    """Called inside the import transaction once a batch and its orders exist.

    Audited with its cost; over the approval threshold it waits for a second person.
    """
    if cost is not None:
        count = batch.orders.count()
        detail = f"Batch {batch.pk}: {count} orders of {batch.service} from {batch.source_name!r}."
        audit.record(user, "import", detail, cost)
        if approval.hold_if_over(batch, cost, user, "import"):
            return
    transaction.on_commit(driver.enqueue)


def resubmit_failed(orders, actor, include_unknown=False):
    """Queue failed (and, knowingly, unknown-outcome) orders again; returns how many.

    Orders of a cancelled batch stay as they are. A done batch runs again; a paused one
    stays paused until someone resumes it.
    """
    statuses = Order.PROBLEM_STATUSES if include_unknown else [Order.Status.FAILED]
    candidates = orders.filter(status__in=statuses).exclude(batch__state=Batch.State.CANCELLED)
    with transaction.atomic():
        requeued = [o for o in candidates if o.requeue(actor, include_unknown=include_unknown)]
        # Locked, so that a driver completing the batch waits for this decision (mark_done).
        batches = Batch.objects.select_for_update(no_key=True).filter(
            pk__in={o.batch_id for o in requeued}
        )
        for batch in batches.order_by("pk"):
            cost = approval.queued_cost(batch)
            audit.record(actor, "resubmit", f"Batch {batch.pk}: orders re-submitted.", cost)
            if approval.hold_if_over(batch, cost, actor, "re-submit"):
                continue
            if batch.state == Batch.State.DONE:
                batch.resume()
        if requeued:
            transaction.on_commit(driver.enqueue)
    return len(requeued)


def pause_batch(batch, actor):
    paused = batch.pause(f"Paused by {actor} at {timezone.now():%Y-%m-%d %H:%M}.")
    if paused:
        audit.record(actor, "pause", f"Batch {batch.pk} paused.")
    return paused


def resume_batch(batch, actor):
    """Paused -> running; the driver picks its queued orders up again."""
    if batch.state != Batch.State.PAUSED:
        return False
    resumed = batch.resume()
    if resumed:
        audit.record(actor, "resume", f"Batch {batch.pk} resumed.")
        transaction.on_commit(driver.enqueue)
    return resumed


@dataclass(frozen=True)
class Cancelled:
    batch_cancelled: bool
    orders_cancelled: int
    already_sent: int  # sent or being sent: these cannot be called back


def cancel_batch(batch, actor):
    """Cancel the batch and its queued orders; says how many orders had already gone out."""
    with transaction.atomic():
        note = f"Cancelled by {actor} at {timezone.now():%Y-%m-%d %H:%M}."
        if not batch.cancel(note):
            return Cancelled(False, 0, 0)
        cancelled = Order.objects.cancel_queued(batch.pk, actor=actor)
        sent = batch.orders.filter(status__in=Order.MAY_BE_PLACED_STATUSES).count()
        detail = f"Batch {batch.pk} cancelled: {cancelled} queued orders, {sent} already sent."
        audit.record(actor, "cancel", detail)
    return Cancelled(True, cancelled, sent)


def sync_statuses_now(orders=None):
    """Make placed, unfinished orders due for polling now and poll them in a task."""
    awaiting = (orders if orders is not None else Order.objects.all()).awaiting_result()
    count = awaiting.filter(remote_id__isnull=False).update(next_poll_at=timezone.now())
    if count:
        transaction.on_commit(_enqueue_sync)
    return count


def _enqueue_sync():
    from django_q.tasks import async_task

    async_task("submissions.tasks.sync_statuses", q_options={"save": False})


def poll_due_now():
    from .provider import GsmFusionClient

    with GsmFusionClient.from_settings() as client:
        return polling.poll_due(client)


def set_priority(batch, priority, actor):
    """An operator's priority for a batch (low / normal / high); the next claim applies it.

    Kept through pause, resume and re-submit: they never touch it. Urgent ("check now")
    batches keep theirs.
    """
    return batch.set_priority(priority)
