"""`drill chaos`: connections reset under the cluster (PostgreSQL, Redis), or on SQLite
the cluster SIGKILLed and the database's write lock held, at random for a while."""

import os
import random
import sqlite3
import threading
import time
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.db import connection

from devtools.chaosproxy import Chaos, ChaosProxy

FINAL_WITHIN = 300  # every order final, none unknown, this long after the chaos ends


class ChaosDrill:
    def setup_chaos(self):
        """Before the cluster starts: put proxies between it and PostgreSQL and Redis."""
        self.proxies = []
        db = settings.DATABASES["default"]
        if db["ENGINE"].endswith("postgresql"):
            proxy = self.proxy(int(db["PORT"] or 5432))
            self.cluster_env["DATABASE_URL"] = with_port(os.environ["DATABASE_URL"], proxy.port)
        if settings.REDIS_URL:
            redis_port = urlsplit(settings.REDIS_URL).port or 6379
            proxy = self.proxy(redis_port)
            self.cluster_env["REDIS_URL"] = with_port(settings.REDIS_URL, proxy.port)

    def proxy(self, port):
        proxy = ChaosProxy(port).start()
        self.proxies.append(proxy)
        self.cleanups.append(proxy.stop)
        return proxy

    def drill_chaos(self):
        self.wait(lambda: self.placed() > 0, 300, "the first order placed")
        seconds = self.options["chaos_seconds"]
        if self.proxies:
            chaos = Chaos(self.proxies, seed=self.options["seed"]).run_for(seconds)
            chaos.wait()
            events = chaos.events
        else:
            events = self.process_chaos(seconds)
        ended = time.monotonic()
        report = {
            "chaos": "connections" if self.proxies else "processes (SQLite)",
            "chaos_seconds": seconds,
            "cuts": sum(1 for _, what in events if what in ("cut", "SIGKILL")),
            "refusals_or_stalls": sum(1 for _, what in events if what.startswith(("ref", "st"))),
            "events": [f"{at} s {what}" for at, what in events],
            "status_at_chaos_end": self.counts(),
            "cluster_restarts": self.supervisor.restarts,
            "proxies": {str(p.target[1]): p.describe() for p in self.proxies},
        }
        settled = self.settle(FINAL_WITHIN, unknown_ok=False)
        report["seconds_from_chaos_end_to_all_final_none_unknown"] = (
            round(time.monotonic() - ended) if settled else None
        )
        report.update(self.reconciliation())
        report["cluster_restarts"] = self.supervisor.restarts
        invariants = {"all_final_none_unknown_within_5_min": settled}
        return self.verdict(report, invariants)

    def process_chaos(self, seconds):
        """SQLite: SIGKILL the cluster or stall every writer, every 4-10 s."""
        rng, events = random.Random(self.options["seed"]), []
        started = time.monotonic()
        while True:
            time.sleep(rng.uniform(4, 10))
            at, draw = round(time.monotonic() - started, 1), rng.random()
            if at >= seconds:
                return events
            if draw < 0.35:
                self.supervisor.kill()
                events.append((at, "SIGKILL"))
            elif draw < 0.65:
                stall = rng.uniform(1, 5)
                hold_write_lock(stall)
                events.append((at, f"stall {stall:.1f} s"))


def with_port(url, port):
    """`url` with its host:port replaced by 127.0.0.1:`port` (the proxy)."""
    parts = urlsplit(url)
    credentials = parts.netloc.rpartition("@")[0]
    netloc = f"{credentials}@127.0.0.1:{port}" if credentials else f"127.0.0.1:{port}"
    return urlunsplit(parts._replace(netloc=netloc))


def hold_write_lock(seconds):
    """SQLite: take the write lock for `seconds`, in the background (writers wait)."""

    def hold():
        db = sqlite3.connect(connection.settings_dict["NAME"], timeout=30, isolation_level=None)
        db.execute("BEGIN IMMEDIATE")
        time.sleep(seconds)
        db.execute("ROLLBACK")
        db.close()

    threading.Thread(target=hold, daemon=True).start()
