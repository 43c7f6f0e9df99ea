"""The engine's limits: the in-flight cap (halved on 429s) and the send-rate token bucket.

Their state lives on the Dispatcher row, by the database's clock, so it is one state for every
driver: a successor starts from its predecessor's limit and bucket, and a halving by a
draining driver holds for the one claiming meanwhile. Each change is a conditional UPDATE, so
two drivers never halve or creep twice for one event. The engine reads `current()` every
housekeeping turn; the claim applies it under the dispatcher lock. The cap and the rate are
the operator's live controls where set (`controls.effective()`), else the settings.
"""

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Case, F, Q, Value, When
from django.db.models.functions import Coalesce, Greatest, Now

from orders.bulk import from_now

from .. import controls
from ..models import Dispatcher

log = logging.getLogger("submissions.driver")

CREEP_SECONDS = 5  # after a halving or a creep, one more slot once this long passed quietly
BURST_SECONDS = 5  # the bucket holds this many seconds' worth of sends


@dataclass(frozen=True)
class Limits:
    cap: int  # the operator's in-flight cap (live control, else SUBMIT_CONCURRENCY)
    concurrency: int  # the in-flight cap now: lowered after 429s, creeping back to `cap`
    rate_per_minute: int  # sends a minute across all drivers; 0 = no limit
    sending_stopped: bool = False  # the operator's "stop all sending" switch


def current(row=None, live=None):
    """The limits in force now, from the Dispatcher and Control rows (read them each turn).

    A cap lowered by the operator applies at once; a raised one too, unless 429s lowered the
    limit, which then creeps up to it. `live`: the operator's controls if read already.
    """
    row = row or Dispatcher.get()
    live = live or controls.effective()
    cap = live.concurrency
    concurrency = max(1, min(row.effective_concurrency or cap, cap))
    return Limits(cap, concurrency, live.rate_per_minute, live.sending_stopped)


def refreshed(limits, live):
    """The limits in force now (`live`: the operator's controls, read this turn); logs a change."""
    now = current(live=live)
    if now != limits:
        log.info("Limits now: %s", now)
    return now


def throttled(claimed_at):
    """A 429 for a call claimed at `claimed_at` (database clock): halve the limit; True if so.

    Only a call claimed after the last halving counts: the calls already in flight were sent
    under the old limit, and their 429s would otherwise halve it again and again.
    """
    cap = controls.effective().concurrency
    since = Q(last_throttled_at__isnull=True) | Q(last_throttled_at__lt=claimed_at or Now())
    halved = Greatest(Value(1), Coalesce(F("effective_concurrency"), Value(cap)) / 2)
    changed = (
        Dispatcher.row()
        .filter(since)
        .update(effective_concurrency=halved, last_throttled_at=Now(), limit_changed_at=Now())
    )
    return bool(changed)


def creep():
    """One more slot once CREEP_SECONDS passed since the last change; True when it grew."""
    cap = controls.effective().concurrency
    quiet = Q(limit_changed_at__isnull=True) | Q(
        limit_changed_at__lte=from_now(-timedelta(seconds=CREEP_SECONDS))
    )
    grown = Case(
        When(effective_concurrency__gte=cap - 1, then=Value(None)),
        default=F("effective_concurrency") + 1,
    )
    changed = (
        Dispatcher.row()
        .filter(quiet, effective_concurrency__isnull=False)
        .update(effective_concurrency=grown, limit_changed_at=Now())
    )
    return bool(changed)


def take_sends(row, wanted, rate_per_minute):
    """How many of `wanted` sends the shared bucket allows now; takes them.

    Call inside the claim's transaction, with `row` locked and annotated with `db_now`.
    """
    if not rate_per_minute:
        return wanted
    rate = rate_per_minute / 60
    capacity = max(1.0, rate * BURST_SECONDS)
    tokens = capacity
    if row.send_tokens is not None:
        elapsed = max(0.0, (row.db_now - row.send_tokens_at).total_seconds())
        tokens = min(capacity, row.send_tokens + elapsed * rate)
    granted = min(wanted, int(tokens))
    Dispatcher.row().update(send_tokens=tokens - granted, send_tokens_at=row.db_now)
    return granted
