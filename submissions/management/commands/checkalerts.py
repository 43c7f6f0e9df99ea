from django.core.management.base import BaseCommand

from submissions import alerts


class Command(BaseCommand):
    help = (
        "Evaluate the alerts and send the mails due (the cluster does this every minute; run "
        "it from cron on another host too, so a dead cluster is still reported)."
    )

    def handle(self, *args, **options):
        states = alerts.evaluate()
        open_keys = [key for key, is_open in states.items() if is_open]
        self.stdout.write(f"Open alerts: {', '.join(open_keys) or 'none'}")
