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

import os
import random
import signal
import sqlite3
import threading
import time
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.db import connection

from devtools.chaosproxy import Chaos, ChaosProxy
from devtools.fakefusion.data import CATALOGUE
from devtools.fakefusion.server import REFUSED_IMEI, FakeFusion
from orders.imei import with_check_digit
from orders.models import Batch, Order, OrderEvent, Service
from submissions import controls, engine, services

RESTART_SECONDS = 5  # deploy/systemd/portal-qcluster.service: RestartSec=5
FINAL_WITHIN = 300  # chaos: every order final, none unknown, this long after the chaos ends
STOP_BOUND = 1.0  # no placeorder starts later than this after "stop all sending" returns
SLOWER_BOUND = 1.3  # a batch with 3 refused IMEIs against a clean one
FIRST_REFUSED = (0, 3, 6)  # positions among the first sent: a success sent between each two


class RecordingFake(FakeFusion):
    """The fake provider, noting when each placeorder reached it (this process's monotonic)."""

    def __init__(self, **options):
        super().__init__(**options)
        self.starts = []

    def _placeorder(self, params):
        self.starts.append(time.monotonic())  # list.append is atomic
        return super()._placeorder(params)


class Supervisor:
    """Keeps one cluster running: restarted RESTART_SECONDS after it exits, like systemd."""

    def __init__(self, start):
        self.start, self.restarts = start, 0
        self.process = start()
        self._stopping = threading.Event()
        threading.Thread(target=self._watch, daemon=True).start()

    def kill(self):
        kill_group(self.process.pid)

    def stop(self):
        self._stopping.set()
        self.kill()

    def _watch(self):
        while not self._stopping.wait(0.5):
            if self.process.poll() is None:
                continue
            kill_group(self.process.pid)  # systemd's KillMode=control-group: no stragglers
            if self._stopping.wait(RESTART_SECONDS):
                return
            self.process, self.restarts = self.start(), self.restarts + 1


def kill_group(pid):
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


class FaultDrills:
    """Mixed into the drill command: uses its fake, batch, cluster and waiting helpers."""

    # -- chaos ---------------------------------------------------------------------------------

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
        while (at := time.monotonic() - started) < seconds:
            time.sleep(rng.uniform(4, 10))
            draw = rng.random()
            if draw < 0.35:
                self.supervisor.kill()
                events.append((round(at), "SIGKILL"))
            elif draw < 0.65:
                stall = rng.uniform(1, 5)
                hold_write_lock(stall)
                events.append((round(at), f"stall {stall:.1f} s"))
        return events

    # -- refusals ------------------------------------------------------------------------------

    def drill_refusals(self):
        size = self.options["orders"]
        clean = self.timed_batch(self.batch)
        report = {"clean_seconds": clean}
        invariants = {}
        spread = (size // 4, size // 2, 3 * size // 4)
        for n, (name, positions) in enumerate(
            {"spread": spread, "first": FIRST_REFUSED}.items(), 1
        ):
            imeis = [drill_imei(n * size + p) for p in positions]
            self.fake.set_faults({"refuse_imeis": imeis})
            batch = make_batch(size, first=n * size)
            seconds = self.timed_batch(batch, watch_pauses=True)
            refused = self.refused(batch, imeis)
            report[name] = {"seconds": seconds, "ratio": ratio(seconds, clean), **refused}
            invariants[f"{name}_no_pause"] = not refused["pauses"]
            invariants[f"{name}_3_failed_with_the_providers_words"] = refused["ok"]
            invariants[f"{name}_others_completed"] = refused["others_completed"] == size - 3
            invariants[f"{name}_within_1.3x"] = (ratio(seconds, clean) or 99) <= SLOWER_BOUND
        self.fake.set_faults({"refuse_imeis": ()})
        return self.verdict(report, invariants)

    def timed_batch(self, batch, watch_pauses=False):
        """Seconds from its first placeorder at the fake to every order final (None: stuck)."""
        self.pauses, first_start = [], len(self.fake.starts)
        if batch != self.batch:
            services.batch_created(batch)
        settled = self.settle(600, batch=batch, watch_pauses=watch_pauses)
        if not settled or len(self.fake.starts) <= first_start:
            return None
        return round(time.monotonic() - self.fake.starts[first_start], 1)

    def refused(self, batch, imeis):
        orders = list(batch.orders.filter(imei__in=imeis).values("status", "last_error"))
        ok = len(orders) == len(imeis) == 3 and all(
            o["status"] == Order.Status.FAILED and REFUSED_IMEI in o["last_error"] for o in orders
        )
        others = batch.orders.exclude(imei__in=imeis)
        return {
            "refused_orders": orders,
            "ok": ok,
            "others_completed": others.filter(status=Order.Status.COMPLETED).count(),
            "pauses": self.pauses,
        }

    # -- stop ----------------------------------------------------------------------------------

    def drill_stop(self):
        self.wait(lambda: self.placed() >= 200, 600, "200 orders placed")
        controls.change(None, sending_stopped=False)  # the row exists: one UPDATE below
        pressed = time.monotonic()
        controls.change(None, sending_stopped=True)
        returned = time.monotonic()
        report = {
            "seconds_for_the_stop_to_return": round(returned - pressed, 3),
            "in_flight_at_stop": self.fake.stats()["inflight_placeorders"],
        }
        self.wait_quiet(returned + self.options["hold"])
        later = [round(t - returned, 3) for t in self.fake.starts if t > returned]
        report["placeorders_started_after_the_stop"] = len(later)
        report["last_placeorder_start_after_the_stop_s"] = max(later, default=0.0)
        report["starts_after_the_stop_s"] = later[-10:]  # the last ten, for the diagnosis
        held = self.books()
        report["while_stopped"] = {**held, "submitting": Order.objects.in_flight().count()}
        controls.change(None, sending_stopped=False)
        engine.enqueue_driver()
        settled = self.settle(600)
        invariants = {
            "no_placeorder_later_than_1s_after_the_stop": max(later, default=0) <= STOP_BOUND,
            "calls_in_flight_recorded_while_stopped": (
                held["provider_orders_not_recorded"] == 0
                and not report["while_stopped"]["submitting"]
            ),
            "batch_completes_after_release": settled,
        }
        return self.verdict(report, invariants)

    def wait_quiet(self, until):
        """While stopped: until `until` and the calls in flight have ended and been recorded."""
        end = until + 120
        while time.monotonic() < end:
            quiet = not self.fake.stats()["inflight_placeorders"]
            if time.monotonic() >= until and quiet and not Order.objects.in_flight().exists():
                return
            time.sleep(0.2)

    # -- the books -----------------------------------------------------------------------------

    def settle(self, timeout, batch=None, unknown_ok=True, watch_pauses=False):
        """Wait until every order of `batch` (default: all) is final; False on timeout."""
        orders = batch.orders if batch else Order.objects
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if watch_pauses:
                self.resume_if_paused(batch)
            statuses = Order.OPEN_STATUSES + ([] if unknown_ok else [Order.Status.UNKNOWN])
            if not orders.filter(status__in=statuses).exists():
                return True
            time.sleep(0.5)
        return False

    def resume_if_paused(self, batch):
        """A pause is a failure of the refusals drill: note it, resume as an operator would."""
        batch.refresh_from_db()
        if batch.state == Batch.State.PAUSED and len(self.pauses) < 5:
            self.pauses.append(batch.note)
            services.resume_batch(batch, "drill")
            engine.enqueue_driver()

    def books(self):
        """The provider's books against the portal's."""
        recorded = dict(
            Order.objects.exclude(remote_id=None).values_list("remote_id", "imei").iterator()
        )
        created = self.fake.orders()
        missing = [o for o in created if recorded.get(o["id"]) != o["imei"]]
        stats = self.fake.stats()
        return {
            "provider_orders": len(created),
            "provider_orders_not_recorded": len(missing),
            "not_recorded_sample": missing[:5],
            "imeis_placed_more_than_once": stats["imeis_placed_more_than_once"],
            "open_orders": Order.objects.filter(status__in=Order.OPEN_STATUSES).count(),
            "unknown_orders": Order.objects.filter(status=Order.Status.UNKNOWN).count(),
        }

    def verdict(self, report, invariants):
        books = self.books()
        report["books"] = books
        invariants.update(
            no_imei_placed_twice=books["imeis_placed_more_than_once"] == 0,
            every_provider_order_recorded_with_its_id=books["provider_orders_not_recorded"] == 0,
            every_order_final=books["open_orders"] == 0,
        )
        report["invariants"] = invariants
        report["passed"] = all(invariants.values())
        return report

    def reconciliation(self):
        events = OrderEvent.objects
        return {
            "found_again": events.filter(detail__startswith="Found again").count(),
            "never_created_sent": events.filter(detail__startswith="Never created").count(),
        }


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


def ratio(seconds, clean):
    return round(seconds / clean, 2) if seconds and clean else None


def make_batch(orders, first=0):
    """A batch of `orders` drill IMEIs, numbered from `first` (distinct across batches)."""
    service, _ = Service.objects.update_or_create(
        id=CATALOGUE[0][0], defaults={"title": CATALOGUE[0][1], "price": CATALOGUE[0][3]}
    )
    batch = Batch.objects.create(service=service, source_name="drill")
    Order.objects.bulk_create(
        Order(batch=batch, service=service, imei=drill_imei(first + i)) for i in range(orders)
    )
    return batch


def drill_imei(n):
    return with_check_digit(f"35{9_000_000_000 + n:012d}")
