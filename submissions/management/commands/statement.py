import time
from datetime import date, timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from submissions import statement


def a_date(text):
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"{text!r} is not a date (YYYY-MM-DD)") from None


class Command(BaseCommand):
    help = (
        "Read a day's orders back from the provider (getimeis, read-only) and compare its "
        "books with ours: --date YYYY-MM-DD (default yesterday), or --from and --to."
    )

    def add_arguments(self, parser):
        parser.add_argument("--date", type=a_date, help="One day (default: yesterday).")
        parser.add_argument("--from", dest="first", type=a_date, help="First day of a range.")
        parser.add_argument("--to", dest="last", type=a_date, help="Last day (inclusive).")

    def handle(self, *args, **options):
        for day in days(options):
            started = time.monotonic()
            run = statement.run_day(day)
            seconds = time.monotonic() - started
            style = self.style.SUCCESS if run.outcome == run.Outcome.MATCHED else self.style.ERROR
            self.stdout.write(style(f"{day:%Y-%m-%d} {statement.summary(run)} ({seconds:.1f} s)"))


def days(options):
    first, last, one = options["first"], options["last"], options["date"]
    if one and (first or last):
        raise CommandError("Give --date, or --from and --to, not both.")
    if bool(first) != bool(last):
        raise CommandError("--from and --to go together.")
    if first and last < first:
        raise CommandError("--to is before --from.")
    if not first:
        first = last = one or timezone.localdate() - timedelta(days=1)
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]
