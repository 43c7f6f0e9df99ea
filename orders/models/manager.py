"""`Order.objects`: the order queries, and the writes that move many orders at once.

Each set-wise write is a method of the manager (`Order.objects.claim(orders, lease)`); the SQL
they need beyond the ORM is in orders/bulk.py. A single order moves by its own methods.
"""

import uuid

from django.db import connection, models, transaction
from django.db.models import Q
from django.db.models.functions import Now
from django.utils import timezone

from .. import bulk
from .batch import Batch
from .statuses import Status, StatusGroups


class OrderQuerySet(models.QuerySet):
    def due_for_submit(self, now=None):
        now = now or timezone.now()
        return self.filter(
            status=Status.QUEUED,
            batch__state__in=Batch.LIVE_STATES,
        ).filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))

    def claimable(self):
        """Queued orders read for a claim (`Order.objects.claim`): locked, skipping rows another
        transaction holds, with what sending them needs."""
        return (
            self.filter(status=Status.QUEUED)
            .select_related("service")
            # `claimed_at` by the database's clock: a 429 counts only for calls sent after the
            # last halving of the limit (submissions.driver.limits), whichever host halved it.
            .annotate(
                claimed_at=Now(),
                batch_state=models.F("batch__state"),
                batch_priority=models.F("batch__priority"),
            )
            .select_for_update(skip_locked=True, of=("self",))
        )

    def in_flight(self):
        return self.filter(status=Status.SUBMITTING)

    def awaiting_result(self):
        return self.filter(status__in=StatusGroups.AWAITING_RESULT_STATUSES)


class OrderManager(models.Manager.from_queryset(OrderQuerySet)):
    """The set-wise writes: each moves many orders in a few statements."""

    def insert_queued(self, batch, imeis, now):
        """The batch's new orders, queued, in file order: one INSERT ... SELECT over the IMEIs
        passed as one array (SQLite json_each, PostgreSQL unnest), not 500 INSERTs of 40
        rows (SQLite's 999 parameters). 20,000 orders in a fraction of a second. Every other
        column takes its model default."""
        given = {"batch": batch.pk, "service": batch.service_id, "created_at": now}
        bulk.insert_each_imei(self.model, given, imeis)

    def claim(self, orders, lease):
        """queued -> submitting for `orders`, all in one UPDATE; returns the claimed ones.

        `orders` were read with `claimable()` in the caller's transaction (which holds the
        dispatcher lock). Any moved by someone else meanwhile are simply not claimed (the
        UPDATE is conditional, and what it moved carries its claim token).
        """
        token = uuid.uuid4()
        pks = [order.pk for order in orders]
        with transaction.atomic(savepoint=False):
            moved = self.filter(pk__in=pks, status=Status.QUEUED).update(
                status=Status.SUBMITTING,
                claim_token=token,
                lease_expires_at=bulk.from_now(lease),
                attempts=models.F("attempts") + 1,
            )
            if moved < len(orders):
                taken = set(self.filter(pk__in=pks, claim_token=token).values_list("pk"))
                orders = [order for order in orders if (order.pk,) in taken]
            bulk.save_events([o.claim_event() for o in orders])
        for order in orders:
            order.status, order.claim_token = Status.SUBMITTING, token
            order.attempts += 1
        return orders

    def mark_placed_in_bulk(self, answers):
        """`mark_placed` for many `Placed` answers in one UPDATE; returns the orders it moved.

        The driver records a loop turn's placed answers this way: one statement instead of one
        per answer. An order no longer `submitting` or `unknown` (its answer recorded already)
        is left as it is. Two answers for one order (it was claimed again meanwhile) are
        recorded one after the other.
        """
        if not answers:
            return []
        if len({answer.order.pk for answer in answers}) < len(answers):
            return [a.order for a in answers if self.mark_placed_in_bulk([a])]
        now = timezone.now()
        by_pk = {answer.order.pk: answer for answer in answers}
        placed = {pk: answer.status for pk, answer in by_pk.items()}
        moving = self.filter(pk__in=by_pk, status__in=[Status.SUBMITTING, Status.UNKNOWN])
        with transaction.atomic(savepoint=False):
            changes = {
                pk: {"status": a.status, "remote_id": a.remote_id, "cost": a.order.service.price}
                for pk, a in by_pk.items()
            }
            moved = moving.update(
                **{
                    name: bulk.per_order(self.model, name, changes)
                    for name in ("status", "remote_id", "cost")
                },
                submitted_at=now,
                next_poll_at=now,
                lease_expires_at=None,
                last_error="",
            )
            if moved < len(by_pk):
                # Some were recorded already: this UPDATE stamped the ones it moved with `now`.
                stamped = self.filter(pk__in=by_pk, submitted_at=now)
                by_pk = {pk: by_pk[pk] for pk in stamped.values_list("pk", flat=True)}
            bulk.save_events(
                [
                    a.order.event(a.order.status, placed[pk], a.raw, a.latency)
                    for pk, a in by_pk.items()
                ]
            )
        for pk, answer in by_pk.items():
            order = answer.order
            order.status, order.remote_id = placed[pk], answer.remote_id
            order.cost, order.last_error = order.service.price, ""
            order.submitted_at = order.next_poll_at = now
            order.lease_expires_at = None
        return [answer.order for answer in by_pk.values()]

    def apply_remote_statuses(self, answers):
        """getimeis answers (`Polled`) for awaiting orders; returns the orders they moved on.

        The orders a chunk moves are read with a row lock (their status now), then written by
        one prepared UPDATE sent for all of them at once (`executemany`), with an event each:
        a chunk of 100 results costs a few round trips, not 100. An unrecognised status is
        noted on the order's timeline, one order at a time (rare).
        """
        moved = [
            a.order
            for a in answers
            if a.status is None
            and a.order._move(
                [a.order.status], a.order.status, detail=f"Unrecognised provider status: {a.raw}"
            )
        ]
        moving = {a.order.pk: a for a in answers if a.status not in (None, a.order.status)}
        if not moving:
            return moved
        now = timezone.now()
        with transaction.atomic(savepoint=False):
            awaiting = self.filter(pk__in=moving, status__in=StatusGroups.AWAITING_RESULT_STATUSES)
            current = dict(awaiting.select_for_update().values_list("pk", "status"))
            moving = {pk: a for pk, a in moving.items() if current.get(pk) not in (None, a.status)}
            changes = {pk: a.changes(now) for pk, a in moving.items()}
            for names in {tuple(fields) for fields in changes.values()}:
                bulk.update_each(
                    self.model, {pk: f for pk, f in changes.items() if tuple(f) == names}, names
                )
            bulk.save_events(
                [a.order.event(current[pk], a.status, a.raw) for pk, a in moving.items()]
            )
        for pk, answer in moving.items():
            for name, value in changes[pk].items():
                setattr(answer.order, name, value)
        return moved + [answer.order for answer in moving.values()]

    def cancel_queued(self, batch_id, actor=None, detail="Cancelled before it was sent."):
        """queued -> cancelled for every queued order of a batch; returns how many.

        `cancel` for a whole batch, in a few statements instead of a transaction per order:
        one UPDATE (a row a worker is claiming is waited for, then skipped: it is no longer
        queued), then one INSERT ... SELECT of their events, found by the UPDATE's own
        timestamp. 20,000 orders in well under two seconds.
        """
        now = timezone.now()
        with transaction.atomic():
            if connection.vendor == "postgresql":
                moved = bulk.cancel_queued_counted(batch_id, now, Status.QUEUED, Status.CANCELLED)
            else:  # SQLite's row triggers keep the counters, quickly enough
                queued = self.filter(batch_id=batch_id, status=Status.QUEUED)
                moved = queued.update(status=Status.CANCELLED, finished_at=now)
            if moved:
                cancelled = self.filter(batch_id=batch_id, status=Status.CANCELLED, finished_at=now)
                bulk.insert_events_of(cancelled, Status.QUEUED, detail, actor, now)
        return moved
