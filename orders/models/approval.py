"""Four eyes on spend: a batch over APPROVAL_THRESHOLD waits for a second staff member."""

from django.db import models
from django.utils import timezone


class BatchApproval(models.Model):
    """The approval transitions of `Batch` (docs/spend.md), made of its `_move`."""

    class Meta:
        abstract = True

    def await_approval(self, requested_by, note):
        """-> awaiting approval: an import or re-submit over the threshold, by `requested_by`."""
        allowed = [self.State.QUEUED, self.State.RUNNING, self.State.PAUSED, self.State.DONE]
        return self._move(
            allowed,
            self.State.AWAITING_APPROVAL,
            note=note,
            finished_at=None,
            approval_requested_by=requested_by,
            approved_by=None,
            approved_at=None,
        )

    def approve(self, user):
        """awaiting approval -> queued: the driver sends it (the claim starts it running)."""
        return self._move(
            [self.State.AWAITING_APPROVAL],
            self.State.QUEUED,
            note="",
            approved_by=user,
            approved_at=timezone.now(),
        )

    def reject(self, user, note):
        """awaiting approval -> cancelled (its queued orders are cancelled by the caller)."""
        return self._move(
            [self.State.AWAITING_APPROVAL],
            self.State.CANCELLED,
            note=note,
            approved_by=user,
            approved_at=timezone.now(),
            finished_at=timezone.now(),
        )
