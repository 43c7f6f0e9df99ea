"""Reading provider orders back for the daily statement: getimeis, 100 ids a call, paced.

Read-only calls, safe to repeat: a failed chunk is asked again (ATTEMPTS in all) and its ids
are reported unread if it never answers. STATEMENT_CONCURRENCY calls run at once, started at
most STATEMENT_CALLS_PER_SECOND (0: no limit) across the threads, so the driver's own calls
keep their share of the account.
"""

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from .driver.clock import SystemClock
from .provider.client import MAX_IDS_PER_CALL

log = logging.getLogger(__name__)

ATTEMPTS = 3


class Pacer:
    """Spaces call starts 1/per_second apart, whichever thread starts them."""

    def __init__(self, per_second, clock=None):
        self.interval = 1.0 / per_second if per_second else 0.0
        self.clock = clock or SystemClock()
        self.next_at = None
        self.lock = threading.Lock()

    def wait(self):
        if not self.interval:
            return
        with self.lock:
            now = self.clock.monotonic()
            start = now if self.next_at is None else max(now, self.next_at)
            self.next_at = start + self.interval
        if start > now:
            self.clock.sleep(start - now)


@dataclass
class Reading:
    """What the provider answered: {remote_id: RemoteOrder}, ids never read, calls made."""

    found: dict = field(default_factory=dict)
    unread: set = field(default_factory=set)
    calls: int = 0


def read(client, ids, concurrency, pacer):
    """Every id of `ids`, 100 a call, `concurrency` calls at a time."""
    ids = sorted(set(ids))
    chunks = [ids[i : i + MAX_IDS_PER_CALL] for i in range(0, len(ids), MAX_IDS_PER_CALL)]
    reading = Reading()
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="statement") as pool:
        for chunk, (remotes, calls) in zip(
            chunks, pool.map(lambda c: read_chunk(client, c, pacer), chunks), strict=True
        ):
            reading.calls += calls
            if remotes is None:
                reading.unread.update(chunk)
            else:
                reading.found.update((remote.remote_id, remote) for remote in remotes)
    return reading


def read_chunk(client, chunk, pacer):
    """(the orders answered, or None if every attempt failed; calls made)."""
    for attempt in range(1, ATTEMPTS + 1):
        pacer.wait()
        try:
            return client.order_statuses(chunk), attempt
        except Exception as exc:  # a read: asked again, then reported unread
            log.warning("Statement: getimeis for %d ids failed (%d): %s", len(chunk), attempt, exc)
    return None, ATTEMPTS
