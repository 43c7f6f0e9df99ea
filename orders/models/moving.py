"""How every transition of an order writes: one conditional UPDATE and its event."""

from django.db import models, transaction
from django.db.models import Q

from .. import bulk


class ConditionalMoves(models.Model):
    """`Order`'s moves: `_move` is what each of its transitions is made of."""

    class Meta:
        abstract = True

    def _move(
        self,
        allowed,
        new_status,
        detail="",
        latency=None,
        actor=None,
        where=None,
        any_claim=False,
        **fields,
    ):
        """Move this order from one of `allowed` to `new_status` and record the event.

        A conditional UPDATE: it returns False (and changes nothing) when another worker moved
        the order first, so callers never act on a state they do not own. Out of `submitting`
        it must also be this object's claim (`claim_token`): an answer to an older call of a
        re-submitted, re-claimed order never moves the newer claim (`any_claim` lifts that,
        for recording a placed order only). `where` adds conditions.
        """
        event = self.event(self.status, new_status, detail, latency, actor)
        fields["status"] = new_status
        owned = Q(status__in=allowed) if any_claim else self._owned(allowed)
        matching = type(self).objects.filter(owned, pk=self.pk).filter(where or Q())
        queued = bulk.queued_events()
        if queued is not None:
            # Inside `transitions_in_bulk`: its transaction holds this UPDATE and its one
            # INSERT of every event at the end.
            if not matching.update(**fields):
                return False
            queued.append(event)
        else:
            with transaction.atomic():
                if not matching.update(**fields):
                    return False
                event.save()
        for name, value in fields.items():
            if not hasattr(value, "resolve_expression"):
                setattr(self, name, value)
        return True

    def _owned(self, allowed):
        """`allowed` statuses, with `submitting` only under this object's claim."""
        others = [status for status in allowed if status != self.Status.SUBMITTING]
        owned = Q(status__in=others)
        if self.Status.SUBMITTING in allowed:
            owned |= Q(status=self.Status.SUBMITTING, claim_token=self.claim_token)
        return owned

    def event(self, from_status, to_status, detail, latency=None, actor=None):
        from .events import OrderEvent, latency_ms  # events.py imports the Order model

        return OrderEvent(
            order_id=self.pk,
            batch_id=self.batch_id,
            from_status=from_status,
            to_status=to_status,
            latency_ms=latency_ms(latency),
            detail=detail,
            actor=actor,
        )

    def claim_event(self):
        """queued -> submitting, at the moment the claim read the order by the database's clock
        (`claimable()`): the send order the refusal rule follows (submissions/driver/refusals.py).
        """
        event = self.event(self.Status.QUEUED, self.Status.SUBMITTING, "")
        if getattr(self, "claimed_at", None) is not None:
            event.at = self.claimed_at
        return event
