"""`manage.py statementbench`: time the daily statement of a clean day against the fake provider.

It makes a day of N completed orders (default 20,000) both at an in-process fake provider
(with its default getimeis latency, 1 s a call, unless --status-latency) and in this
database, on a day of its own (2000-01-03), runs `statement.run_day` with the configured
STATEMENT_CONCURRENCY and STATEMENT_CALLS_PER_SECOND, prints the figures and deletes what it
made. Run it on a scratch database:
`DATABASE_URL=sqlite:////tmp/statementbench.sqlite3 python manage.py migrate` then the same
variable with `python manage.py statementbench`.
"""

import time
from datetime import date, datetime
from datetime import time as day_time
from decimal import Decimal

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone

from devtools.fakefusion.data import CATALOGUE, completed_code
from devtools.fakefusion.server import FakeFusion
from orders.imei import with_check_digit
from orders.models import Batch, Order, Service
from submissions import statement
from submissions.provider import GsmFusionClient

DAY = date(2000, 1, 3)
SERVICE = CATALOGUE[0]


class Command(BaseCommand):
    help = "Time the daily statement for a clean day of N orders against the fake provider."

    def add_arguments(self, parser):
        parser.add_argument("--orders", type=int, default=20_000)
        parser.add_argument(
            "--status-latency", type=float, default=1.0, help="seconds per getimeis call"
        )

    def handle(self, *args, **options):
        fake = FakeFusion(
            complete_after=0,
            status_latency=options["status_latency"],
            username=settings.GSM_FUSION_USERNAME,
            api_key=settings.GSM_FUSION_API_KEY,
        ).start()
        settings.GSM_FUSION_BASE_URL = fake.base_url
        batch = None
        try:
            batch = make_day(fake, options["orders"])
            started = time.monotonic()
            with GsmFusionClient.from_settings() as client:
                run = statement.run_day(DAY, client)
            seconds = time.monotonic() - started
            self.stdout.write(
                f"{options['orders']:,} orders, {run.calls} getimeis calls "
                f"({settings.STATEMENT_CONCURRENCY} at once, at most "
                f"{settings.STATEMENT_CALLS_PER_SECOND or 'unlimited'}/s, "
                f"{options['status_latency']:g} s each): {seconds:.1f} s. {statement.summary(run)}"
            )
            run.delete()
        finally:
            fake.stop()
            if batch is not None:
                batch.delete()


def make_day(fake, count):
    """`count` completed orders of one day, at the fake and here, with the same ids."""
    service, _ = Service.objects.update_or_create(
        id=SERVICE[0], defaults={"title": SERVICE[1], "price": Decimal(SERVICE[3])}
    )
    batch = Batch.objects.create(service=service, state=Batch.State.DONE, source_name="bench")
    at = timezone.make_aware(datetime.combine(DAY, day_time(12)))
    orders = []
    for n in range(count):
        imei = with_check_digit(f"35{n:012d}")
        with fake._lock:
            remote = fake._add_order(imei, service.id)
        orders.append(
            Order(
                batch=batch, service=service, imei=imei, status=Order.Status.COMPLETED,
                remote_id=remote.id, cost=service.price, submitted_at=at,
                result_code=completed_code(imei),
            )
        )  # fmt: skip
    Order.objects.bulk_create(orders, batch_size=2000)
    return batch
