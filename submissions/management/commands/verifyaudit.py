"""`manage.py verifyaudit`: prove the audit trail's hash chain unbroken (exit 1 if not)."""

from django.core.management.base import BaseCommand, CommandError

from submissions import audit


class Command(BaseCommand):
    help = "Recompute the audit trail's hash chain and report the first broken record."

    def handle(self, *args, **options):
        checked, broken = audit.verify()
        if broken is not None:
            raise CommandError(
                f"Audit chain broken at record {broken.record_id}: {broken.reason} "
                f"({checked} records before it are intact)."
            )
        self.stdout.write(f"Audit chain intact: {checked} records.")
