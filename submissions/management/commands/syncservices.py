from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from submissions.catalogue import refresh_if_stale, sync_services
from submissions.provider import ProviderError


class Command(BaseCommand):
    help = "Pull the provider's service catalogue (imeiservices) into the Service table."

    def add_arguments(self, parser):
        parser.add_argument(
            "--if-older-than",
            type=float,
            metavar="HOURS",
            help="Only sync when the newest sync is older than this many hours.",
        )

    def handle(self, *args, **options):
        hours = options["if_older_than"]
        try:
            if hours is None:
                counts = sync_services()
            else:
                counts = refresh_if_stale(max_age=timedelta(hours=hours))
        except ProviderError as exc:
            raise CommandError(f"Catalogue not synced ({exc.kind}): {exc.message}") from exc
        if counts is None:
            self.stdout.write(f"Catalogue synced less than {hours:g} hours ago; nothing to do.")
            return
        self.stdout.write(
            self.style.SUCCESS(
                "Services: {created} created, {updated} updated, {deactivated} deactivated.".format(
                    **counts
                )
            )
        )
