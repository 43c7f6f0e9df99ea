"""The driver: one bounded run that sends queued orders and polls results.

Only the main thread touches the database. A thread pool does the placeorder calls (one slot
per call, so a slow call holds only its own slot) and a second, small one the getimeis calls;
their results come back as futures and are recorded here as soon as they finish, those of one
loop turn in one transaction. The rules live beside this file: what is claimed and sent
(`sending`), what answers do (`outcomes`), recording a turn (`recording`), polling (`polls`).
See docs/architecture.md.
"""

import logging

from django.db import DatabaseError, connection

from .. import health
from . import calls, claims, lease, limits, shutdown
from .clock import SystemClock
from .outcomes import LEASE_LOST, Outcomes
from .polls import Polls
from .recording import Recording
from .sending import NOT_SENT_HANDED_OVER, Sending

log = logging.getLogger("submissions.driver")

WAIT_SECONDS = 0.2  # how long the loop waits for a call to finish before looking again
HOUSEKEEPING_SECONDS = 2  # lease renewal, crash sweep, finished batches, limit creep
DATABASE_RETRY_SECONDS = 1  # after a database error, reconnect and carry on this much later


class Driver:
    def __init__(self, token, seconds, client_factory, clock=None):
        self.token = token
        self.clock = clock or SystemClock()
        self.deadline = self.clock.monotonic() + seconds
        call_seconds = calls.longest_call_seconds()
        self.drain_seconds = min(call_seconds + 5, shutdown.STOP_SECONDS)
        self.outcomes = Outcomes(self.clock)
        self.sending = Sending(client_factory(), self.clock, call_seconds, self.outcomes)
        self.outcomes.limits = limits.current(live=self.sending.controls)
        self.polls = Polls(client_factory(), self.outcomes)
        self.recording = Recording(self.sending, self.polls, self.outcomes)
        self.next_housekeeping = 0.0

    def run(self):
        """Send and poll until the deadline, hand over, then drain.

        1. Loop until the deadline (`step`): housekeeping every few seconds; claim due orders
           into the free slots and start their calls; start a poll round when due; wait
           briefly for the first finished call; record every finished call at once. Leave
           early when nothing is in flight and no work remains.
        2. Hand over BEFORE draining: put back the orders claimed ahead, release the lease and
           enqueue a successor if work is left, so it claims slots as our last calls free them.
        3. Drain: record the calls still in flight, keeping their leases alive; an answer in
           hand is retried until recorded and logged in full if it never is.

        An error in a turn (a database restart, failover, read-only standby, a dropped
        connection, a lock held too long, a bug) costs a short pause, not the driver: the
        calls in flight keep running and their answers are recorded once the database is back
        (`survive`). Nothing between the loop and the drain can skip the drain.
        """
        try:
            while self.running() and survive(self.clock, self.step):
                pass
            self.hand_over()
            self.drain()
        finally:
            self.close()
        return self.outcomes.summary

    def step(self):
        """One loop turn; False when the driver should stop early."""
        now = self.clock.monotonic()
        self.sending.send_ready()  # calls that finished while the last turn recorded a poll
        try:
            if now >= self.next_housekeeping:
                self.next_housekeeping = now + HOUSEKEEPING_SECONDS
                if not self.housekeeping():
                    return False
            self.polls.start(now)
        finally:
            # Even when a statement above failed (a lock timeout: a stalled claimer holds the
            # dispatcher row), the answers in hand are recorded and the free slots refilled.
            self.recording.wait_and_record(WAIT_SECONDS, refill=True)
        self.polls.record_reconciled()
        return True

    def housekeeping(self):
        """Every few seconds: leases, the crash sweep, finished batches, limits, health.

        Our own calls first, even when our driver lease is lost: one slower than its lease (a
        trickling answer) is still ours, and its answer must be recorded, not swept.
        """
        self.sending.keep_alive()
        self.recording.retry_held()
        if not lease.renew(self.token):
            self.outcomes.stop_reason = self.outcomes.stop_reason or LEASE_LOST
            log.error("Driver lease lost; stopping without claiming more")
            return False
        claims.sweep_expired()
        claims.cancel_stranded()
        claims.finish_batches()
        limits.creep()
        self.outcomes.limits = limits.refreshed(self.outcomes.limits, self.sending.read_controls())
        self.outcomes.breaker.grow()
        self.outcomes.refusal_lifted()
        self.polls.start_reconciling()
        self.outcomes.save_health()
        health.beat()
        return self.sending.sends or self.polls or claims.work_remains()

    def refill(self):
        """Claim due orders into the free slots and send them (no answer to record)."""
        self.recording.record([], refill=True)

    def running(self):
        """Before the deadline, and no SIGTERM (a deploy): then hand over and drain."""
        return self.clock.monotonic() < self.deadline and not shutdown.requested()

    def hand_over(self):
        """Put the orders claimed ahead back, release the lease, start a successor.

        Each step on its own (one failing skips none of the others), in this order: the
        successor must find those orders queued. The lease is released before the check for
        work: a batch committed after the check kicks a driver that finds the lease free.
        """
        survive(self.clock, self.sending.put_back_ahead, NOT_SENT_HANDED_OVER)
        survive(self.clock, lease.release, self.token)
        survive(self.clock, self.start_successor)

    def start_successor(self):
        from . import enqueue  # the package's one way to start a driver

        if claims.work_remains():
            enqueue()

    def drain(self):
        """Record the calls still in flight, then wrap up; never dies, never drops an answer.

        1. Wait for running calls for at most `drain_seconds` (a call is bounded by name
           resolution + connect + read timeouts), extending their leases every housekeeping
           turn: the successor's sweep must not take them while we wait.
        2. An answer in hand (received, not yet recorded: the database is down) is retried
           until `shutdown.STOP_SECONDS` from the drain's start (the deploy units wait longer).
        3. Whatever is left is logged in full (order, IMEI, remote id, raw answer).
        """
        started = self.clock.monotonic()
        calls_end, give_up_at = started + self.drain_seconds, started + shutdown.STOP_SECONDS
        self.next_housekeeping = 0.0
        while self.sending.sends or self.polls:
            now = self.clock.monotonic()
            in_hand = any(future.done() for future in self.sending.sends)
            if now >= give_up_at or (now >= calls_end and not in_hand):
                break
            survive(self.clock, self.drain_turn, now)
        calls.log_left_behind(self.sending)
        survive(self.clock, self.wrap_up)

    def drain_turn(self, now):
        if now >= self.next_housekeeping:
            self.next_housekeeping = now + HOUSEKEEPING_SECONDS
            self.sending.keep_alive()
            self.recording.retry_held()
        self.recording.wait_and_record(WAIT_SECONDS)

    def wrap_up(self):
        claims.cancel_stranded()
        claims.finish_batches()
        self.outcomes.save_health()

    def close(self):
        self.sending.close()
        self.polls.close()


def survive(clock, turn, *args):
    """Run one turn; on any error reconnect after a pause and carry on (True).

    Without this, one dropped connection (or any other error) ended the driver and lost the
    answers of every call in flight: placed and charged orders swept to `unknown`, their ids
    gone.
    """
    try:
        return turn(*args)
    except DatabaseError as exc:
        log.warning("Database error; reconnecting in %d s: %s", DATABASE_RETRY_SECONDS, exc)
    except Exception:
        log.exception("Driver turn failed; carrying on in %d s", DATABASE_RETRY_SECONDS)
    connection.close()
    clock.sleep(DATABASE_RETRY_SECONDS)
    return True
