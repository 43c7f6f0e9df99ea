"""One benchmark run, in a process whose settings already point at the benchmark database.

`manage.py benchmark` starts this process with DATABASE_URL (and REDIS_URL) set, so that the
settings, the test Client, the baselines and the qcluster all use the same database.
"""

import json
import sys
import time
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection

from orders.models import Order

from . import actions, pages, phases, processes, report, urgent, year
from .config import Config

ENGINE_KEYS = ("import", "engine", "results", "cost", "baselines", "pages")


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def prepare_database():
    call_command("migrate", interactive=False, verbosity=0)
    if Order.objects.exists():
        raise RuntimeError(
            f"The benchmark database {connection.settings_dict['NAME']} already holds orders; "
            "give a fresh one (--database) or --recreate-database for PostgreSQL."
        )
    clear_broker()
    user, _ = get_user_model().objects.get_or_create(
        username="benchmark", defaults={"is_staff": True, "is_superuser": True}
    )
    return user, phases.ensure_service()


def clear_broker():
    """Leftover tasks of an earlier run on a shared Redis would start stale drivers."""
    if settings.REDIS_URL:
        import redis
        from django_q.conf import Conf

        redis.from_url(settings.REDIS_URL).delete(f"django_q:{Conf.CLUSTER_NAME}:q")


def run(config):
    workdir = Path(config.workdir)
    results = {
        "config": config.to_json(),
        "database_vendor": connection.vendor,
        "broker": "redis" if settings.REDIS_URL else "orm",
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
        **dict.fromkeys(ENGINE_KEYS),
    }
    log(f"Migrating {connection.vendor} database {connection.settings_dict['NAME']}")
    user, service = prepare_database()
    client = phases.admin_client(user)
    provider = processes.FakeProvider(config, workdir / "fakefusion.log")
    try:
        run_engine(config, results, client, service, provider, workdir)
        if not config.skip_baselines:
            run_baselines(config, results, provider)
            results["engine"]["pool_ratio"] = pool_ratio(results)
    finally:
        provider.stop()
    if not config.skip_pages:
        log(f"Filling the database to {config.page_orders:,} orders and timing the pages")
        results["pages"] = pages.time_pages(client, config)
    results["verdicts"] = report.verdicts(results)
    write(results, config.json)
    print(report.table(results))
    print(f"\nJSON: {config.json}")
    return results


def run_engine(config, results, client, service, provider, workdir):
    log(f"Starting the qcluster (concurrency {config.concurrency})")
    cluster = processes.Cluster(config, provider, workdir)
    try:
        cpu_before = processes.group_cpu_seconds(cluster.pgid)
        queries_before = cluster.queries()
        sampler = processes.RssSampler(cluster.pgid)
        sampler.start()
        log(f"Importing {config.orders:,} IMEIs through the admin")
        started = time.monotonic()
        batch, results["import"] = phases.run_import(
            client, service, phases.imeis("engine", config.orders)
        )
        log(f"Batch {batch.pk} confirmed; waiting until every order is final")
        if not phases.wait_until_final(batch, engine_timeout(config), Progress(config.orders)):
            raise RuntimeError(f"Orders still open after the timeout:\n{cluster.output()[-3000:]}")
        final_seconds = time.monotonic() - started
        time.sleep(1)  # the last query counts are flushed within 0.2 s
        cpu = processes.group_cpu_seconds(cluster.pgid) - cpu_before
        queries = cluster.queries() - queries_before
        peak = sampler.stop()
    finally:
        cluster.stop()
    stats = provider.stats()
    results["engine"] = phases.engine_figures(batch, config, stats)
    results["results"] = {
        **phases.result_lag(batch, config.complete_after),
        "seconds_to_all_final": round(final_seconds, 1),
    }
    results["cost"] = {
        "queries": queries,
        "queries_per_order": round(queries / config.orders, 1),
        "cpu_seconds": round(cpu, 2),
        "cpu_seconds_per_1000": round(cpu * 1000 / config.orders, 2),
        "peak_rss_mib": round(peak / 2**20, 1),
    }


def pool_ratio(results):
    """The engine's throughput as a share of the in-memory thread pool's, in the same run."""
    engine, pool = results["engine"]["wall_seconds"], results["baselines"]["thread_pool"]
    if not engine or not pool.get("wall_seconds"):
        return None
    return round(pool["wall_seconds"] / engine, 3)


def engine_timeout(config):
    sending = config.orders * (config.latency + config.jitter) / config.concurrency
    return 3 * sending + config.complete_after + 10 * config.poll_seconds + 120


class Progress:
    """Logs the open count every ~10 s."""

    def __init__(self, total):
        self.total, self.next_at = total, 0.0

    def __call__(self, still_open):
        if time.monotonic() >= self.next_at:
            self.next_at = time.monotonic() + 10
            log(f"  {self.total - still_open:,} of {self.total:,} final")


def run_baselines(config, results, provider):
    log(f"Baseline: sequential, {min(config.orders, config.sequential_cap)} orders")
    sequential = phases.run_sequential(config, provider)
    log(f"Baseline: thread pool of {config.concurrency}, {config.orders:,} orders")
    results["baselines"] = {
        "sequential": sequential,
        "thread_pool": phases.run_thread_pool(config, provider),
    }


def write(results, path):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, default=str))


def main(config_json):
    config = Config(**json.loads(config_json))
    # The benchmark's own staff user imports through the admin: two-factor login (on by default
    # with DEBUG off) is not what it measures.
    settings.STAFF_2FA = False
    if config.preset == "year":
        return run_year(config)
    if config.preset == "urgent":
        return run_urgent(config)
    if config.preset == "actions":
        return run_actions(config)
    return run(config)


def run_actions(config):
    """The big admin actions (devtools/benchmark/actions.py): no provider, no cluster."""
    results = {"config": config.to_json(), "database_vendor": connection.vendor}
    log(f"Migrating {connection.vendor} database {connection.settings_dict['NAME']}")
    user, service = prepare_database()
    results["actions"] = actions.run(config, phases.admin_client(user), service, log)
    write(results, config.json)
    print(actions.table(results["actions"]))
    print(f"\nJSON: {config.json}")
    return results


def run_urgent(config):
    """The urgent lane and fair share (devtools/benchmark/urgent.py)."""
    results = {"config": config.to_json(), "database_vendor": connection.vendor}
    results["broker"] = "redis" if settings.REDIS_URL else "orm"
    log(f"Migrating {connection.vendor} database {connection.settings_dict['NAME']}")
    user, service = prepare_database()
    provider = processes.FakeProvider(config, Path(config.workdir) / "fakefusion.log")
    try:
        client = phases.admin_client(user)
        results["urgent"] = urgent.run(config, client, service, provider, config.workdir, log)
    finally:
        provider.stop()
    write(results, config.json)
    print(urgent.table(results["urgent"]))
    print(f"\nJSON: {config.json}")
    return results


def run_year(config):
    results = year.run(config, log)
    write(results, config.json)
    print(f"{results['orders']:,} orders, {results['events']:,} events")
    print(year.table(results["pages_ms"]))
    print(f"\nJSON: {config.json}")
    return results
