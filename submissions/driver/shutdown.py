"""Graceful stop: SIGTERM makes a running driver stop claiming, record its calls and exit.

django-q2's own handling does not do this: its sentinel and workers die at once on SIGTERM
(systemd's default KillMode=control-group signals every process), and a SIGTERM to the main
process only (docker stop) makes the sentinel wait for the running driver to reach its
deadline. So:
- a worker running the driver installs `stop_on_sigterm()`: SIGTERM sets a flag, the driver
  stops claiming, drains its calls in flight (bounded by the HTTP timeouts) and returns, and
  the worker process then exits (its parent may be gone already);
- the `qcluster` command (submissions/management/commands/qcluster.py) forwards a SIGTERM
  received by the main process to the sentinel's children, then stops the cluster as usual,
  which waits for them.
"""

import logging
import os
import signal
import threading
import time
from contextlib import contextmanager

log = logging.getLogger(__name__)

# The longest a driver takes to stop after SIGTERM: its calls in flight end within the HTTP
# timeouts (2 x connect + read + 5 s = 115 s with the defaults), then answers in hand are
# retried until this bound. deploy/systemd/portal-qcluster.service's TimeoutStopSec and the
# compose file's stop_grace_period must exceed it (tests/test_production.py checks them).
STOP_SECONDS = 120

_requested = threading.Event()


def requested():
    """Has this process been asked to stop (SIGTERM while the driver runs)?"""
    return _requested.is_set()


def _on_sigterm(signum, frame):
    if not _requested.is_set():
        log.warning("SIGTERM: the driver stops claiming and records its calls in flight")
    _requested.set()


@contextmanager
def stop_on_sigterm():
    """While the body runs, SIGTERM asks for a graceful stop instead of killing the process."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def exit_worker():
    """Leave the worker process after a graceful stop: no more tasks after a SIGTERM."""
    from django.db import connections

    connections.close_all()
    log.warning("Driver stopped after SIGTERM; worker process %d exits", os.getpid())
    raise SystemExit(0)


def children_of(pid):
    """The ids of the processes whose parent is `pid` (Linux /proc; empty elsewhere)."""
    children = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return children
    for entry in entries:
        if entry.isdigit() and _parent_of(entry) == pid:
            children.append(int(entry))
    return children


def _parent_of(entry):
    try:
        with open(f"/proc/{entry}/stat") as stat:
            # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
            return int(stat.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def group_is_gone(pgid):
    """Has every process of the process group `pgid` ended?"""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


def still_running(pid, wait_seconds):
    """Is `pid` still running after up to `wait_seconds`? (A zombie or a reaped one is not.)

    Not `Process.is_alive()`: called from a signal handler, its waitpid can race with the
    interrupted one that already reaped the child, and then wrongly says "alive".
    """
    end = time.monotonic() + wait_seconds
    while _is_running(pid):
        if time.monotonic() >= end:
            return True
        time.sleep(0.05)
    return False


def _is_running(pid):
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False
    except (OSError, IndexError):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True


def signal_children(pid, signum=signal.SIGTERM):
    """Send `signum` to every child of `pid`; returns how many were signalled."""
    sent = 0
    for child in children_of(pid):
        try:
            os.kill(child, signum)
            sent += 1
        except ProcessLookupError:
            pass
    return sent
