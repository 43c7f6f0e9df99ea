"""Recording a loop turn's answers in one transaction, with the claim that refills their slots.

One commit for every answer of a loop turn and the claim that refills their slots, instead of a
commit each: on PostgreSQL a commit waits for its WAL flush, and the freed slots waited for it.
The claimed orders are sent once that commit is done. An error of its own (not a database
error) in recording an answer other than "placed" holds that answer alone (`record_one`). Any
error while recording the placed ones or claiming, a database error, or a failed commit holds
every answer of the group: each is logged in full and retried on its own at the next
housekeeping turn (the transitions are conditional UPDATEs under the claim token, so a repeat
of one whose commit outlived the error changes nothing), and claims nothing. Nothing of a
failed group is kept in memory: the answers were recorded on copies of the orders,
`Outcomes` is restored, and which orders are claimed under our token is read back from the
database (`Sending.doubt`, then `Sending.keep_alive`): the COMMIT may have reached the server.
"""

import copy
import logging

from django.db import DatabaseError

from orders.bulk import transitions_in_bulk

from .calls import describe, storable

log = logging.getLogger("submissions.driver")


class Recording:
    def __init__(self, sending, polls, outcomes):
        self.sending, self.polls, self.outcomes = sending, polls, outcomes
        self.held = set()  # finished sends whose recording failed: logged, retried
        self.recorded = []  # the sends recorded in the transaction under way

    def wait_and_record(self, timeout, refill=False):
        """Wait briefly for calls to finish; record them (and refill the free slots).

        At most one poll chunk a turn: the next turn refills the free slots first. Chunks left
        stay done and come back at once from the next wait.
        """
        sending, polls = self.sending, self.polls
        futures = [f for f in sending.sends if f not in self.held] + list(polls.futures)
        if refill and not futures:  # nothing to wait for: claim first
            self.record([], refill=True)
            futures = list(sending.sends)
        if futures:
            done = sending.clock.wait(futures, timeout)[0]
        else:
            done = set()
            sending.clock.sleep(timeout)
        if refill:
            sending.send_ready()  # freed slots first, from memory; then the database work
        self.record([f for f in done if f in sending.sends], refill=refill)
        if refill and any(f in polls.futures for f in done):
            sending.send_ready()  # calls that finished while the turn above was recorded
        polls.record_one(done)

    def record(self, futures, refill=False):
        """Record finished calls (and with `refill`, claim the slots they free), then send."""
        if not futures and not refill:
            return
        sending, saved, held_ahead = (
            self.sending,
            self.outcomes.snapshot(),
            list(self.sending.ahead),
        )
        leased_at = sending.clock.monotonic()  # the claim below sets its leases after this
        placed = [future for future in futures if storable(future.result())]
        others = [future for future in futures if future not in placed]
        self.recorded, claimed = [], []
        try:
            with transitions_in_bulk():
                self.recorded = [future for future in others if self.record_one(future)]
                self.outcomes.record_placed([self.answer(future) for future in placed])
                self.recorded += placed
                claimed = sending.claim(len(self.recorded)) if refill else []
        except Exception as exc:
            self.outcomes.restore(saved)
            sending.doubt(held_ahead + claimed)
            for future in futures:
                self.hold(future, exc)
            raise
        finally:
            recorded, self.recorded = self.recorded, []
        for future in recorded:
            del sending.sends[future]
            self.held.discard(future)
        sending.ahead.add(claimed, leased_at)
        sending.send_ready()

    def answer(self, future):
        """`(order, sent_at, call)` of a finished send, on a copy of the order.

        The transitions update the object they move, and a group rolled back after recording
        an answer must retry it from the order as it was sent.
        """
        order, sent_at = self.sending.sends[future]
        return copy.copy(order), sent_at, future.result()

    def record_one(self, future):
        """Record one answer in a savepoint of the group; False if held for an error of its own.

        Such an error (not a database one) rolls back all this answer wrote, its queued
        events too (a nested `transitions_in_bulk`); the rest of the group goes on. Only
        answers other than "placed" come here, so the savepoints are few.
        """
        try:
            with transitions_in_bulk():
                self.outcomes.record(*self.answer(future))
        except DatabaseError:
            raise
        except Exception as exc:
            self.hold(future, exc)
            return False
        return True

    def hold(self, future, exc):
        if future not in self.held:
            self.held.add(future)
            answer = describe(self.sending.sends[future][0], future.result())
            log.error("Answer kept until it can be recorded (%s): %s", exc, answer)

    def retry_held(self):
        """Retry the held answers one at a time: one that keeps failing holds up no other."""
        for future in list(self.held):
            self.record([future])
