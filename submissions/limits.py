"""The driver's limits: a token bucket for the send rate and the adaptive in-flight cap.

Both live in the driver's main thread only, so they need no locks. The adaptive cap is also
stored on the Dispatcher so that the next driver starts where this one left off.
"""

import time

from django.utils import timezone

from .models import Dispatcher


class TokenBucket:
    """At most `per_minute` sends a minute, in bursts of a few seconds' worth; 0 = no limit."""

    BURST_SECONDS = 5

    def __init__(self, per_minute, clock=time.monotonic):
        self.rate = per_minute / 60
        self.capacity = max(1.0, self.rate * self.BURST_SECONDS)
        self.tokens = self.capacity
        self.clock = clock
        self.updated = clock()

    def available(self, wanted):
        """How many of `wanted` sends may start now."""
        if not self.rate:
            return wanted
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        return min(wanted, int(self.tokens))

    def take(self, count):
        if self.rate:
            self.tokens -= count


class AdaptiveConcurrency:
    """The in-flight cap: halved on a 429, then crept back up by one every CREEP_SECONDS.

    Only a 429 for a call sent after the last halving counts: the calls already in flight were
    sent under the old limit, and their 429s would otherwise halve it again and again.
    """

    CREEP_SECONDS = 5

    def __init__(self, cap, effective=None, clock=time.monotonic):
        self.cap = cap
        self.limit = max(1, min(effective or cap, cap))
        self.clock = clock
        self.changed_at = clock()
        self.halved_at = float("-inf")

    def throttled(self, sent_at):
        """A 429 for a call sent at `sent_at` (monotonic); True when the limit was halved."""
        if sent_at < self.halved_at:
            return False
        self.limit = max(1, self.limit // 2)
        self.changed_at = self.halved_at = self.clock()
        save_limit(self.limit, self.cap, throttled=True)
        return True

    def creep(self):
        """One more slot after a quiet spell; True when the limit grew."""
        if self.limit >= self.cap or self.clock() - self.changed_at < self.CREEP_SECONDS:
            return False
        self.limit += 1
        self.changed_at = self.clock()
        save_limit(self.limit, self.cap)
        return True


def save_limit(limit, cap, throttled=False):
    fields = {"effective_concurrency": None if limit >= cap else limit}
    if throttled:
        fields["last_throttled_at"] = timezone.now()
    Dispatcher.row().update(**fields)
