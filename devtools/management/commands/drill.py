"""`manage.py drill SCENARIO`: the full-size unattended-operation drills.

Against the configured database (it must hold no orders), an in-process fake provider and a
REAL `manage.py qcluster`, one batch of --orders orders:
- outage: 502 Bad Gateway (--status 502, the default: a gateway answers, nothing is created,
  the client cannot know that: unknown, then reconciliation) or 503 (--status 503: refused,
  retried) on every placeorder for --outage seconds once 200 orders are placed;
- refusal: "not enough funds" (or --refusal-text) refusals once 300 orders exist; then
  top-up and resume;
- sigterm / sigterm-main: SIGTERM to the cluster's whole group / its main process once 300
  are placed; time to exit, then a restart finishes the batch;
- kill9: SIGKILL to the whole group once 300 are placed; a restart, leases lapse naturally,
  reconciliation finds the unknown orders;
- chaos: the cluster's database and Redis connections reset (on SQLite: the cluster killed
  and the write lock held) at random for --chaos-seconds;
- refusals: 3 IMEIs refused one by one, which must neither pause nor slow the batch;
- stop: "Stop all sending" mid-batch: nothing may start 1 s after it, then the batch completes.
chaos, refusals and stop end with the provider's and the portal's books compared and a
verdict per invariant. Prints one JSON report. The scenarios: devtools/faultdrills/. The fake
answers in --latency s with other accounts' ids in between.
"""

import json

from django.core.management import BaseCommand, CommandError, call_command

from devtools.faultdrills import FUNDS, SCENARIOS, Drill
from orders.models import Order


class Command(BaseCommand):
    help = (
        "Full-size drills against a real qcluster: outage, refusal storm, SIGTERM, kill -9, "
        "connections reset (chaos), single IMEIs refused (refusals) and stop all sending (stop)."
    )

    def add_arguments(self, parser):
        parser.add_argument("scenario", choices=SCENARIOS)
        parser.add_argument(
            "--orders", type=int, help="the batch's size (1,000; chaos 2,000, refusals 600)"
        )
        parser.add_argument("--outage", type=float, default=180.0, help="seconds of the outage")
        parser.add_argument(
            "--status", type=int, choices=(502, 503), default=502, help="the outage's answer"
        )
        parser.add_argument("--latency", type=float, default=1.0, help="fake placeorder (s)")
        parser.add_argument("--concurrency", type=int, default=30)
        parser.add_argument("--refusal-text", default=FUNDS, help="the refusal scenario's text")
        parser.add_argument("--chaos-seconds", type=float, default=90.0)
        parser.add_argument("--hold", type=float, default=10.0, help="stop: seconds stopped")
        parser.add_argument("--seed", type=int, default=20, help="chaos: the schedule's seed")
        parser.add_argument("--cluster-log", help="append the cluster's output to this file")

    def handle(self, *args, **options):
        call_command("migrate", interactive=False, verbosity=0)
        if Order.objects.exists():
            raise CommandError("The drill needs a database without orders (a fresh one).")
        report = Drill(options).run()
        self.stdout.write(json.dumps(report, indent=1, ensure_ascii=False))
        if report.get("passed") is False:
            failed = [name for name, ok in report["invariants"].items() if not ok]
            raise CommandError(f"Drill {options['scenario']} failed: {', '.join(failed)}")
