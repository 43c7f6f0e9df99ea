"""The fake provider and the qcluster as subprocesses, and what /proc says about them.

Both run in their own process group (`start_new_session`), so the cluster's CPU time and
memory are the sum over its group: the qcluster, its sentinel, pusher, monitor and workers.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from django.conf import settings

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Child:
    """A subprocess in its own process group, its output in a log file."""

    def __init__(self, command, log_path, env=None):
        self.log_path = Path(log_path)
        self.log = open(self.log_path, "ab")  # closed in stop()
        self.process = subprocess.Popen(
            command,
            cwd=settings.BASE_DIR,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pgid(self):
        return self.process.pid

    def output(self):
        return self.log_path.read_text(errors="replace")

    def stop(self, grace=5.0):
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10)):
            try:
                os.killpg(self.pgid, sig)
            except ProcessLookupError:
                break
            try:
                self.process.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        self.log.close()


class FakeProvider(Child):
    """`manage.py fakefusion` on a free port; `stats()` and `reset()` use its HTTP endpoints."""

    def __init__(self, config, log_path):
        self.port = free_port()
        command = [
            sys.executable, "manage.py", "fakefusion", "--port", str(self.port),
            "--latency", str(config.latency), "--jitter", str(config.jitter),
            "--complete-after", str(config.complete_after), "--seed", "7",
        ]  # fmt: skip
        super().__init__(command, log_path)
        self.wait_ready()

    @property
    def base_url(self):
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout=30):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                return self.stats()
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"The fake provider did not start:\n{self.output()}")

    def stats(self):
        with urllib.request.urlopen(f"{self.base_url}/_stats", timeout=5) as answer:
            return json.load(answer)

    def reset(self):
        request = urllib.request.Request(f"{self.base_url}/_reset", data=b"", method="POST")
        urllib.request.urlopen(request, timeout=5).close()


def cluster_env(config, provider, query_dir):
    env = {
        **os.environ,
        "DATABASE_URL": config.database,
        "GSM_FUSION_BASE_URL": provider.base_url,
        "SUBMIT_CONCURRENCY": str(config.concurrency),
        "STATUS_POLL_SECONDS": str(config.poll_seconds),
        # django-q2's "Q Cluster ... running." line (INFO) tells us the cluster is up.
        "Q_LOG_LEVEL": "INFO",
        "BENCHMARK_QUERY_DIR": str(query_dir),
    }
    if config.redis:
        env["REDIS_URL"] = config.redis
    env.pop("BENCHMARK_CONFIG", None)
    return env


class Cluster(Child):
    """A real qcluster (via devtools.benchmark.cluster, which counts its queries)."""

    def __init__(self, config, provider, workdir):
        self.query_dir = Path(workdir) / "queries"
        self.query_dir.mkdir(exist_ok=True)
        command = [sys.executable, "-m", "devtools.benchmark.cluster"]
        env = cluster_env(config, provider, self.query_dir)
        super().__init__(command, Path(workdir) / "qcluster.log", env)
        self.wait_ready()

    def wait_ready(self, timeout=60):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if "running." in self.output():
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError(f"The qcluster did not start:\n{self.output()}")

    def queries(self):
        """Queries run by the cluster's processes so far (each flushes every 0.2 s)."""
        return sum(int(path.read_text() or 0) for path in self.query_dir.glob("*.count"))


# -- /proc --------------------------------------------------------------------------------------


def group_processes(pgid):
    """(pid, fields after the command name) of every live process in the group."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            text = Path(entry.path, "stat").read_text()
        except OSError:
            continue  # it exited meanwhile
        rest = text.rsplit(")", 1)[1].split()
        if int(rest[2]) == pgid:
            found.append((int(entry.name), rest))
    return found


def group_cpu_seconds(pgid):
    """User + system CPU of the group's live processes and of their reaped children.

    A recycled worker's time moves into its parent's cutime/cstime when it is reaped, so
    the sum covers every process the group ever had (as long as its parent is alive).
    """
    ticks = sum(sum(int(v) for v in rest[11:15]) for _, rest in group_processes(pgid))
    return ticks / CLOCK_TICKS


def group_rss_bytes(pgid):
    """Sum of resident memory: shared pages of forked workers count once per process."""
    return sum(int(rest[21]) * PAGE_BYTES for _, rest in group_processes(pgid))


class RssSampler(threading.Thread):
    """Samples the group's RSS sum every `interval` seconds and keeps the peak."""

    def __init__(self, pgid, interval=0.5):
        super().__init__(daemon=True)
        self.pgid, self.interval = pgid, interval
        self.peak = 0
        self.done = threading.Event()

    def run(self):
        while not self.done.is_set():
            self.peak = max(self.peak, group_rss_bytes(self.pgid))
            self.done.wait(self.interval)

    def stop(self):
        self.done.set()
        self.join()
        return self.peak
