from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from devtools.fakefusion.server import FakeFusion


def rate(value):
    value = float(value)
    if not 0 <= value <= 1:
        raise ValueError(value)
    return value


class Command(BaseCommand):
    help = "Run the fake GSM Fusion provider on 127.0.0.1 (for demos and load runs)."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8765)
        parser.add_argument("--latency", type=float, default=15.0, help="seconds per placeorder")
        parser.add_argument("--jitter", type=float, default=3.0, help="+/- seconds, uniform")
        parser.add_argument(
            "--status-latency",
            type=float,
            help="seconds per getimeis/imeiservices (default latency/10, at most 1)",
        )
        parser.add_argument(
            "--complete-after", type=float, default=60.0, help="seconds until Completed"
        )
        parser.add_argument(
            "--fail-rate",
            type=rate,
            default=0.0,
            help="share of HTTP 503s (refused before creating)",
        )
        parser.add_argument(
            "--gateway-rate",
            type=rate,
            default=0.0,
            help="share of HTTP 502s from a gateway in front of the provider (nothing created)",
        )
        parser.add_argument(
            "--timeout-rate", type=rate, default=0.0, help="share of orders never answered"
        )
        parser.add_argument(
            "--garbage-rate",
            type=rate,
            default=0.0,
            help="share of answers cut short (malformed XML), after the order was created",
        )
        parser.add_argument(
            "--refuse-rate",
            type=rate,
            default=0.0,
            help="share of orders refused with a provider error (nothing created: Failed)",
        )
        parser.add_argument(
            "--reject-rate",
            type=rate,
            default=0.0,
            help="share of placed orders whose result is Rejected (Invalid_IMEI)",
        )
        parser.add_argument("--rate-limit", type=int, help="429 beyond N placeorders a second")
        parser.add_argument("--max-inflight", type=int, help="429 beyond N concurrent placeorders")
        parser.add_argument("--seed", type=int, help="seed for latency and fault draws")
        parser.add_argument(
            "--refuse-text", help="refuse every placeorder with this <error> text (no charge)"
        )
        parser.add_argument(
            "--refuse-after", type=int, default=0, help="refuse only once N orders exist"
        )
        parser.add_argument(
            "--id-gap", type=int, default=0, help="up to N other accounts' ids between ours"
        )
        parser.add_argument(
            "--lose-answers",
            type=int,
            default=0,
            help="charge the next N orders and drop their answers (the portal never hears)",
        )
        parser.add_argument(
            "--junk-service", type=int, help="complete this service's orders with garbage results"
        )

    def handle(self, *args, **options):
        try:
            fake = FakeFusion(
                port=options["port"],
                latency=options["latency"],
                jitter=options["jitter"],
                status_latency=options["status_latency"],
                complete_after=options["complete_after"],
                fail_rate=options["fail_rate"],
                gateway_rate=options["gateway_rate"],
                timeout_rate=options["timeout_rate"],
                garbage_rate=options["garbage_rate"],
                refuse_rate=options["refuse_rate"],
                reject_rate=options["reject_rate"],
                rate_limit=options["rate_limit"],
                max_inflight=options["max_inflight"],
                seed=options["seed"],
                refuse_text=options["refuse_text"],
                refuse_after=options["refuse_after"],
                id_gap=options["id_gap"],
                lose_answers=options["lose_answers"],
                junk_service=options["junk_service"],
                username=settings.GSM_FUSION_USERNAME,
                api_key=settings.GSM_FUSION_API_KEY,
            )
        except OSError as exc:
            raise CommandError(f"Cannot listen on 127.0.0.1:{options['port']}: {exc}") from exc
        self.stdout.write(
            f"Fake GSM Fusion on {fake.base_url} for user {fake.username!r}: placeorder "
            f"{fake.latency:g}±{fake.jitter:g} s, Completed after {fake.complete_after:g} s. "
            f"Stats at {fake.base_url}/_stats; faults switch with POST {fake.base_url}/_faults. "
            "Ctrl-C stops."
        )
        try:
            fake.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            fake.stop()
            self.stdout.write(f"Stopped. {fake.stats()}")
