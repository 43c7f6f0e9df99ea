"""Run the housekeeping every hour: `submissions.tasks.housekeeping`.

Idempotent (update_or_create by name), like the other schedules; successes are not saved.
"""

from django.db import migrations

NAME = "Housekeeping"


def create_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.update_or_create(
        name=NAME,
        defaults={
            "func": "submissions.tasks.housekeeping",
            "schedule_type": "H",  # Schedule.HOURLY
            "repeats": -1,
            "kwargs": "{'q_options': {'save': False}}",
        },
    )


def delete_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [("submissions", "0013_statement_canary_schedules")]

    operations = [migrations.RunPython(create_schedule, delete_schedule)]
