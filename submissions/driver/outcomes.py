"""What the provider's answers do: each answer's transition, and the driver's state they change.

`Outcomes` owns everything recording answers changes on the driver: the run's summary, why
claiming stopped, the limits in force, whether the provider answered, the last error and the
circuit breaker. A group of answers whose transaction fails is undone here, in one place
(`snapshot` / `restore`); the orders' own state is decided from the database
(submissions/driver/recording.py).
"""

import copy
import logging
import random
from datetime import timedelta

from django.utils import timezone

from orders.models import Order, Placed

from ..models import Dispatcher
from ..provider import ProviderError
from ..provider.errors import InvalidRequest
from . import calllog, claims, limits, refusals
from .breaker import CircuitBreaker, is_outage
from .calls import storable

log = logging.getLogger("submissions.driver")

MAX_BACKOFF_SECONDS = 300
AUTH_NOTE = "Provider rejected our credentials: {} — fix GSM_FUSION_* and resume."
OUTAGE_NOTE = "Not sent, provider unreachable (no attempt counted): {}"
# Why claiming stopped (`Outcomes.stop_reason`), besides the operator's "stop all sending".
CREDENTIALS_REFUSED = "credentials refused"
REFUSED = "account-wide refusal"
LEASE_LOST = "lease lost"


class Outcomes:
    def __init__(self, clock):
        self.summary = {"claimed": 0, "placed": 0, "retried": 0, "unknown": 0, "failed": 0}
        self.stop_reason = ""  # why this driver claims no more (empty: it claims)
        self.limits = None  # the limits in force: set by the driver from the live controls
        self.provider_answered = False  # since the last `save_health`
        self.last_error = ""  # since the last `save_health`
        self.breaker = CircuitBreaker(clock=clock.monotonic)

    def snapshot(self):
        saved = copy.copy(self)
        saved.summary, saved.breaker = dict(self.summary), copy.copy(self.breaker)
        return saved

    def restore(self, saved):
        self.__dict__.update(saved.snapshot().__dict__)

    def save_health(self):
        """Last success/error on the Dispatcher: one write per housekeeping, not per order."""
        fields = {}
        if self.provider_answered:
            fields["last_success_at"] = timezone.now()
        if self.last_error:
            fields.update(last_error=self.last_error, last_error_at=timezone.now())
        if fields:
            Dispatcher.row().update(**fields)
        self.provider_answered, self.last_error = False, ""

    def record(self, order, sent_at, call):
        """Record one answer. Several placed ones go in one UPDATE: `record_placed`."""
        if storable(call):
            self.record_placed([(order, sent_at, call)])
            return
        if call.placed is not None:
            self.breaker.succeeded()
            self.record_unstorable(order, call.placed, call.latency)
        elif isinstance(call.error, ProviderError):
            self.record_provider_error(order, sent_at, call.error, call.latency)
        else:
            reason = f"Unexpected error during the call; it may have been placed: {call.error!r}"
            self.record_unknown(order, reason, call.latency)
        calllog.placeorder(order, call)

    def record_placed(self, calls):
        """Placed answers, `(order, sent_at, call)` each, with storable ids: one UPDATE for all."""
        if not calls:
            return
        answers = [
            Placed(order, call.placed.remote_id, call.placed.status, call.placed.raw, call.latency)
            for order, _, call in calls
        ]
        moved = {id(order) for order in Order.objects.mark_placed_in_bulk(answers)}
        for order, _, call in calls:
            self.breaker.succeeded()
            self.provider_answered = True
            if id(order) in moved:
                self.summary["placed"] += 1
            else:
                self.placed_elsewhere(order, call.placed)
            calllog.placeorder(order, call)

    def record_unstorable(self, order, placed, latency):
        """A placed answer whose id the database cannot store: unknown, to record by hand."""
        self.provider_answered = True
        reason = (
            f"Placed as {placed.remote_id}, an id beyond what the database stores: "
            f"record it by hand. The provider's answer: {placed.raw}"
        )
        log.error("Order %s (%s): %s", order.pk, order.imei, reason)
        self.record_unknown(order, reason, latency)

    def placed_elsewhere(self, order, placed):
        """A placed answer its order no longer waits for: recorded already, or to do by hand."""
        order.refresh_from_db(fields=["status", "remote_id"])
        if order.remote_id == placed.remote_id:
            return  # recorded already, by a turn whose commit outlived a database error
        # The answer came after the sweep moved the order on (the call outlived its lease):
        # the provider charged it, and this line is the only place its id is kept.
        self.last_error = (
            f"Order {order.pk} ({order.imei}) was placed as {placed.remote_id} after it had "
            f"become {order.status}; record that id by hand"
        )
        log.error("%s: %s", self.last_error, placed.raw)

    def record_provider_error(self, order, sent_at, error, latency):
        # `IMEI already exists!` is the provider's expected refusal, not a fault to flag.
        if error.kind != ProviderError.DUPLICATE:
            self.last_error = f"{error.kind}: {error.message}"
        if not is_outage(error):
            self.breaker.other_answer()
        elif self.breaker.failed(error, sent_at) and error.kind == ProviderError.TRANSIENT:
            order.release(OUTAGE_NOTE.format(error.message))  # an outage spends no attempt
            return
        if error.kind == ProviderError.DUPLICATE:
            order.mark_duplicate(error.raw or error.message, latency)
        elif error.kind == ProviderError.TRANSIENT:
            self.record_transient(order, error, latency)
        elif error.kind == ProviderError.AUTH:
            # A stale answer (its order re-claimed since) says nothing about our credentials now.
            if order.release(f"Not sent: {error.message}"):
                self.stop_for_credentials(error.message)
        elif error.kind == ProviderError.PERMANENT:
            self.record_refusal(order, error, latency)
        else:
            self.record_unknown(order, error.message, latency)

    def record_transient(self, order, error, latency):
        if error.status_code == 429 and limits.throttled(getattr(order, "claimed_at", None)):
            self.limits = limits.current()
            log.warning("HTTP 429: in-flight limit halved to %d", self.limits.concurrency)
        delay = min(2**order.attempts, MAX_BACKOFF_SECONDS) + random.uniform(0, 1)
        order.mark_retry(error.message, timedelta(seconds=delay), latency)
        self.summary["retried"] += 1

    def record_refusal(self, order, error, latency):
        """A provider refusal: this order's fault (it fails with the provider's words), or the
        account's (then stop sending). The rule and its memory: submissions/driver/refusals.py."""
        text = error.message
        verdict = (
            refusals.ORDER if isinstance(error, InvalidRequest) else refusals.judge(order, text)
        )
        if verdict == refusals.ORDER:
            if order.mark_failed(text, latency):
                self.summary["failed"] += 1
            return
        # Refused, so not charged. A stale answer (its order re-claimed since) stops nothing.
        released = order.release(refusals.REQUEUED.format(text))
        self.stop_reason = REFUSED
        if released and verdict == refusals.ACCOUNT_NOW:
            refusals.stop_sending(text)

    def record_unknown(self, order, reason, latency):
        order.mark_unknown(reason, latency)
        self.summary["unknown"] += 1
        self.last_error = reason

    def stop_for_credentials(self, message):
        if not self.stop_reason:
            self.stop_reason = CREDENTIALS_REFUSED
            paused = claims.pause_live_batches(AUTH_NOTE.format(message))
            log.error("Provider refused our credentials (%s); paused %d batches", message, paused)

    def refusal_lifted(self):
        """After an account-wide refusal: True once an operator resumed (claiming again)."""
        if self.stop_reason == REFUSED and not refusals.in_force():
            self.stop_reason = ""
            return True
        return False
