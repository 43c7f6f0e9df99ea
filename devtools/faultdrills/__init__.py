"""Issue 20's drills for `manage.py drill`: chaos, refusals, stop (faults from outside).

Each ends with the provider's and the portal's books compared (`books`): every order the fake
created is recorded in the portal with its id and IMEI, no IMEI reached placeorder twice, every
order final. The report carries `invariants` (name: passed) and `passed`; the command exits 1
when one failed. See docs/operations.md, "Fault drills".

- chaos: on PostgreSQL (+ Redis), the cluster reaches both through `ChaosProxy`s that reset
  every live connection every 4-10 s and refuse new ones now and then, for --chaos-seconds of
  the batch. On SQLite there is no connection to cut: on the same rhythm the drill SIGKILLs the
  cluster's whole group (35 % of the ticks) or holds the database's write lock for 1-5 s (30 %:
  every writer waits, as behind a refused connection). Either way the cluster is restarted
  RESTART_SECONDS after it exits, as systemd's `Restart=always` does.
- refusals: a clean batch, then two batches where the provider refuses 3 IMEIs one by one
  (`refuse_imeis`): spread through the batch, then among the first sent. Each must finish
  without a pause, the 3 `failed` with the provider's words, in <= 1.3x the clean time.
- stop: "Stop all sending" (`controls.change`, what the admin's form calls) once 200 are
  placed: no placeorder may start later than 1 s after it returns; the calls in flight end and
  are recorded; then the stop is released and the batch completes.
"""

from .books import Books
from .chaos import ChaosDrill
from .plumbing import RecordingFake, Supervisor, kill_group, make_batch
from .refusals import RefusalsDrill
from .stop import StopDrill

__all__ = ["FaultDrills", "RecordingFake", "Supervisor", "kill_group", "make_batch"]


class FaultDrills(ChaosDrill, RefusalsDrill, StopDrill, Books):
    """Mixed into the drill command: uses its fake, batch, cluster and waiting helpers."""
