"""Keep the service catalogue (and so the prices shown before an import) fresh: an hourly
`submissions.tasks.refresh_catalogue`, which re-syncs only when the catalogue is stale."""

from django.db import migrations

NAME = "Refresh the service catalogue"


def create_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.update_or_create(
        name=NAME,
        defaults={
            "func": "submissions.tasks.refresh_catalogue",
            "schedule_type": "H",  # Schedule.HOURLY
            "repeats": -1,
            "kwargs": "{'q_options': {'save': False}}",
        },
    )


def delete_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [("submissions", "0002_driver_schedule")]

    operations = [migrations.RunPython(create_schedule, delete_schedule)]
