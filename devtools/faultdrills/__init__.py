"""The fault drills of `manage.py drill`: a real qcluster, a fake provider, one fault each.

`Drill` (drill.py) runs one scenario against the configured database, which must hold no
orders: a batch, an in-process fake provider, a real `manage.py qcluster`, then the fault.

- unattended.py: outage (502 or 503 on every placeorder for a while), refusal (the account
  refused: the batch pauses, then resumes), sigterm / sigterm-main (the cluster stopped
  mid-batch, then restarted), kill9 (SIGKILLed mid-batch: reconciliation finds the unknown
  orders). Each ends with the whole batch completed.
- chaos.py: on PostgreSQL (+ Redis), the cluster reaches both through `ChaosProxy`s that reset
  every live connection every 4-10 s and refuse new ones now and then, for --chaos-seconds of
  the batch. On SQLite there is no connection to cut: on the same rhythm the drill SIGKILLs the
  cluster's whole group (35 % of the ticks) or holds the database's write lock for 1-5 s (30 %:
  every writer waits, as behind a refused connection). Either way the cluster is restarted
  RESTART_SECONDS after it exits, as systemd's `Restart=always` does.
- refusals.py: a clean batch, then two batches where the provider refuses 3 IMEIs one by one
  (`refuse_imeis`): spread through the batch, then among the first sent. Each must finish
  without a pause, the 3 `failed` with the provider's words, in <= 1.3x the clean time.
- stop.py: "Stop all sending" (`controls.change`, what the admin's form calls) once 200 are
  placed: no placeorder may start later than 1 s after it returns; the calls in flight end and
  are recorded; then the stop is released and the batch completes.

chaos, refusals and stop end with the provider's and the portal's books compared (books.py):
every order the fake created is recorded in the portal with its id and IMEI, no IMEI reached
placeorder twice, every order final. Their report carries `invariants` (name: passed) and
`passed`; the command exits 1 when one failed. See docs/operations.md, "Fault drills".
"""

from .drill import SCENARIOS, Drill
from .unattended import FUNDS

__all__ = ["FUNDS", "SCENARIOS", "Drill"]
