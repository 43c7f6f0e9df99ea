"""Graceful stop: SIGTERM during a run records every call in flight; children are signalled."""

import os
import signal
import subprocess
import sys
import threading

from orders.models import Order
from submissions.driver import shutdown
from tests.fixtures.driver import ScriptedClient, run
from tests.fixtures.factories import make_batch

Status = Order.Status


PARENT = (
    "import subprocess, sys, time; "
    "c = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)']); "
    "print(c.pid, flush=True); c.wait(); time.sleep(30)"
)


class SignalledClient(ScriptedClient):
    """Its first call sends this process a SIGTERM, as stopping the worker does mid-run."""

    signalled = False

    def place_order(self, imei, service_id):
        with self.lock:
            first, self.signalled = not self.signalled, True
        if first:
            os.kill(os.getpid(), signal.SIGTERM)
        return super().place_order(imei, service_id)


def test_sigterm_during_a_run_stops_claiming_and_records_every_call_in_flight(
    db, enqueued, settings, monkeypatch
):
    monkeypatch.setattr(shutdown, "_requested", threading.Event())
    settings.SUBMIT_CONCURRENCY = 4
    batch = make_batch(orders=40)
    client = SignalledClient(delay=0.5)

    with shutdown.stop_on_sigterm():
        summary = run(client, seconds=30)

    assert shutdown.requested()
    assert summary["placed"] == sum(client.calls.values()) == 4  # only the first claim
    counts = dict.fromkeys([Status.PENDING, Status.QUEUED], 0)
    for status in batch.orders.values_list("status", flat=True):
        counts[status] += 1
    assert counts == {Status.PENDING: 4, Status.QUEUED: 36}
    assert enqueued == ["drive"]  # the next cluster carries on
    assert signal.getsignal(signal.SIGTERM) is not shutdown._on_sigterm  # handler restored


def test_it_finds_a_processs_children_signals_them_and_sees_them_end():
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    try:
        child = int(parent.stdout.readline())

        assert shutdown.children_of(parent.pid) == [child]
        assert shutdown.still_running(child, 0)
        assert shutdown.signal_children(parent.pid) == 1
        assert not shutdown.still_running(child, 5)  # reaped by its parent
    finally:
        parent.kill()
        parent.wait()
