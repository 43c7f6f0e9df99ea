"""The circuit breaker: a provider-wide outage pauses sending instead of failing orders.

Rule (docs/architecture.md, "Unattended operation"): BREAKER_THRESHOLD calls in a row, for
different orders, fail the way an outage does (refused or reset connection, connect timeout,
HTTP 429 or 5xx) -> the breaker opens. While it is open the driver claims nothing but one probe
order at a time, after BREAKER_FIRST_PROBE_SECONDS, then twice as long after each failed probe,
capped at BREAKER_MAX_PROBE_SECONDS. Orders whose call failed while it is open go back to
`queued` without spending an attempt. Any placed order closes it; the driver then ramps up
(1, 2, 4 ... calls in flight, doubling every housekeeping turn) to its limit.

The state lives in the `Breaker` row, so the next driver carries on and pages can show it:
`state()` is the read-only view for them.
"""

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from orders.models import Batch, Order

from ..models import Breaker
from ..provider import ProviderError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BreakerState:
    open: bool
    since: datetime | None
    next_try: datetime | None
    waiting: int
    reason: str
    probes: int

    def describe(self, now=None):
        """'Provider unreachable since 12:03 - next try in 20 s - 1,812 orders waiting'."""
        if not self.open:
            return ""
        now = now or timezone.now()
        since = timezone.localtime(self.since).strftime("%H:%M")
        seconds = max(0, round((self.next_try - now).total_seconds())) if self.next_try else 0
        return (
            f"Provider unreachable since {since} - next try in {seconds} s - "
            f"{self.waiting:,} orders waiting ({self.reason})"
        )


def state():
    """The breaker as pages and alerts see it; read-only (never creates the row)."""
    row = Breaker.row().first()
    if row is None or row.opened_at is None:
        return BreakerState(False, None, None, 0, "", 0)
    waiting = Order.objects.filter(
        status=Order.Status.QUEUED, batch__state__in=Batch.LIVE_STATES
    ).count()
    return BreakerState(True, row.opened_at, row.next_probe_at, waiting, row.reason, row.probes)


def is_outage(error):
    """Does this failed call look like the provider (or the way to it) being down?

    A transient error always does; an unknown outcome only when it is HTTP 5xx or a network
    failure without any answer (an unreadable 200 answer is about one call, not an outage).
    """
    if not isinstance(error, ProviderError):
        return False
    if error.kind == ProviderError.TRANSIENT:
        return True
    if error.kind != ProviderError.UNKNOWN_OUTCOME:
        return False
    return (error.status_code or 0) >= 500 or (error.status_code is None and not error.raw)


class CircuitBreaker:
    """The driver's breaker: decisions in memory, state written to the Breaker row."""

    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self.threshold = settings.BREAKER_THRESHOLD
        self.first = settings.BREAKER_FIRST_PROBE_SECONDS
        self.longest = settings.BREAKER_MAX_PROBE_SECONDS
        self.streak = 0
        self.ramp = None  # after closing: how many calls may be in flight, doubling
        self.probing = False
        row = Breaker.get()
        self.is_open = row.opened_at is not None
        self.opened_at = self.clock() if self.is_open else None
        self.interval = row.probe_seconds or self.first
        wait = (row.next_probe_at - timezone.now()).total_seconds() if row.next_probe_at else 0
        self.next_probe = self.clock() + max(0.0, wait)

    def allowed(self, wanted, in_flight):
        """How many of `wanted` new calls may start now."""
        if self.is_open:
            due = not self.probing and self.clock() >= self.next_probe
            return min(wanted, 1) if due else 0
        if self.ramp is not None:
            return max(0, min(wanted, self.ramp - in_flight))
        return wanted

    def sent(self, count):
        if self.is_open and count:
            self.probing = True
            Breaker.row().update(probes=F("probes") + count)

    def succeeded(self):
        self.streak = 0
        if self.is_open:
            self.close()

    def failed(self, error, sent_at):
        """An outage-like failure of a call sent at `sent_at`; True when the breaker is open."""
        if self.is_open:
            if self.opened_at is not None and sent_at >= self.opened_at:
                self.probe_failed(error)
            return True
        self.streak += 1
        if self.streak >= self.threshold:
            self.open(error)
        return self.is_open

    def other_answer(self):
        """A call got an answer that is not an outage (a refusal, a duplicate): it is up."""
        self.streak = 0
        if self.is_open:
            self.close()

    def grow(self):
        """Each housekeeping turn after closing: twice as many calls in flight."""
        if self.ramp is not None:
            self.ramp *= 2
            if self.ramp >= settings.SUBMIT_CONCURRENCY:
                self.ramp = None

    def open(self, error):
        self.is_open, self.opened_at, self.interval = True, self.clock(), self.first
        self.next_probe = self.clock() + self.interval
        now = timezone.now()
        Breaker.row().update(
            opened_at=now,
            next_probe_at=now + timedelta(seconds=self.interval),
            probe_seconds=self.interval,
            probes=0,
            reason=error.message[:500],
        )
        log.warning("Circuit breaker opened after %d failed calls in a row: %s", self.streak, error)

    def probe_failed(self, error):
        self.probing = False
        self.interval = min(self.interval * 2, self.longest)
        self.next_probe = self.clock() + self.interval
        Breaker.row().update(
            next_probe_at=timezone.now() + timedelta(seconds=self.interval),
            probe_seconds=self.interval,
            reason=error.message[:500],
        )
        log.info("Probe failed (%s); next try in %d s", error, self.interval)

    def close(self):
        self.is_open, self.opened_at, self.probing, self.ramp = False, None, False, 1
        Breaker.row().update(
            opened_at=None, next_probe_at=None, probe_seconds=0, closed_at=timezone.now()
        )
        log.warning("Circuit breaker closed: the provider answers again")
