"""`manage.py benchmark`: import, send and poll a batch against the fake provider, and time it.

This process only resolves the options; the run itself happens in a child `manage.py
benchmark` whose environment names the benchmark database (a fresh SQLite file by default,
never db/portal.sqlite3), because settings are read from the environment once, at start-up.
See submissions/benchmarking/.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from devtools.benchmark.config import PRESETS, Config

CHILD_VARIABLE = "BENCHMARK_CONFIG"


class Command(BaseCommand):
    help = "Measure import, sending, results, cost and pages against the fake provider."

    def add_arguments(self, parser):
        parser.add_argument(
            "--preset",
            choices=sorted(PRESETS),
            help="small (CI), full, urgent (check now and fair share under a saturating "
            "batch), actions (confirm a big import, cancel its batch, through the admin) "
            "or year (PostgreSQL: 2M orders, pages)",
        )
        parser.add_argument("--orders", type=int)
        parser.add_argument("--latency", type=float, help="mean placeorder seconds")
        parser.add_argument("--jitter", type=float, help="+/- seconds, uniform")
        parser.add_argument("--concurrency", type=int, help="SUBMIT_CONCURRENCY")
        parser.add_argument("--complete-after", type=float, help="seconds until Completed")
        parser.add_argument("--poll-seconds", type=int, help="STATUS_POLL_SECONDS")
        parser.add_argument("--sequential-cap", type=int, help="orders the sequential run sends")
        parser.add_argument("--page-orders", type=int, help="orders in the db for the pages")
        parser.add_argument("--page-requests", type=int, help="timed requests per page")
        parser.add_argument("--database", help="a DATABASE_URL (default: a fresh SQLite file)")
        parser.add_argument("--recreate-database", action="store_true", help="PostgreSQL only")
        parser.add_argument("--redis", help="REDIS_URL for the broker (default: $REDIS_URL)")
        parser.add_argument("--json", help="where to write the results")
        parser.add_argument("--skip-baselines", action="store_true")
        parser.add_argument("--skip-pages", action="store_true")
        parser.add_argument("--small-orders", type=int, help="urgent: the small batch's orders")
        parser.add_argument("--urgent-checks", type=int, help="urgent: check-nows, one per 2 s")
        parser.add_argument("--urgent-imeis", type=int, help="urgent: IMEIs per check-now")

    def handle(self, *args, **options):
        child_config = os.environ.get(CHILD_VARIABLE)
        if child_config:
            from devtools.benchmark import run

            run.main(child_config)
            return
        config = self.resolve(options)
        if options["recreate_database"]:
            recreate_postgres(config.database)
        env = {**os.environ, CHILD_VARIABLE: json.dumps(config.to_json())}
        env["DATABASE_URL"] = config.database
        # Pages are timed from the source tree, without `collectstatic`'s manifest.
        env.setdefault("STATIC_HASHED", "0")
        env.pop("REDIS_URL", None)
        if config.redis:
            env["REDIS_URL"] = config.redis
        command = [sys.executable, "manage.py", "benchmark"]
        code = subprocess.run(command, cwd=settings.BASE_DIR, env=env, check=False).returncode
        if code:
            raise CommandError(f"The benchmark failed (exit {code}); logs in {config.workdir}")

    def resolve(self, options):
        config = Config.from_options(options)
        if min(config.orders, config.concurrency, config.sequential_cap) < 1:
            raise CommandError("--orders, --concurrency and --sequential-cap must be >= 1")
        if not 0 <= config.jitter <= config.latency:
            raise CommandError("--jitter must be between 0 and --latency")
        vendor = "pg" if (config.database or "").startswith("postgres") else "sqlite"
        name = f"{time.strftime('%Y%m%d-%H%M%S')}-{vendor}-{run_size(config)}"
        workdir = Path(settings.BASE_DIR) / "benchmark-results" / name
        workdir.mkdir(parents=True)
        config.workdir = str(workdir)
        config.database = config.database or f"sqlite:///{workdir / 'bench.sqlite3'}"
        if config.database.rstrip("/").endswith(str(settings.SQLITE_PATH)):
            raise CommandError("Refusing to benchmark against the portal's own database.")
        config.json = (
            str(Path(config.json).resolve()) if config.json else str(workdir / "results.json")
        )
        config.redis = config.redis or os.environ.get("REDIS_URL", "")
        return config


def run_size(config):
    """How the run's directory names its size."""
    if config.preset == "year":
        return "year"
    if config.preset == "actions":
        return f"actions-{config.orders}"
    return f"{config.orders}x{config.concurrency}"


def recreate_postgres(url):
    """Drop and create the database named in a postgres:// URL (a dedicated one)."""
    import dj_database_url
    import psycopg
    from psycopg import sql

    db = dj_database_url.parse(url)
    if "postgresql" not in db["ENGINE"]:
        raise CommandError("--recreate-database works on PostgreSQL URLs only")
    params = {"host": db["HOST"], "port": db["PORT"] or 5432, "user": db["USER"]}
    if db.get("PASSWORD"):
        params["password"] = db["PASSWORD"]
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as conn:
        name = sql.Identifier(db["NAME"])
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(name))
