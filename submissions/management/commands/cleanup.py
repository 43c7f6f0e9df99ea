from django.core.management.base import BaseCommand

from submissions import housekeeping


class Command(BaseCommand):
    help = (
        "Delete uploads never confirmed, old django-q task results and old closed alerts "
        "(CLEANUP_UPLOAD_HOURS, CLEANUP_TASK_DAYS, CLEANUP_ALERT_DAYS); the cluster runs it hourly."
    )

    def handle(self, *args, **options):
        cleaned = housekeeping.run()
        self.stdout.write(
            f"Deleted {cleaned.uploads} uploads, {cleaned.tasks} task results, "
            f"{cleaned.alerts} alerts."
        )
