"""Evaluate the alert conditions every minute: `submissions.tasks.evaluate_alerts`.

Idempotent (update_or_create by name), like the driver's schedule; successes are not saved.
"""

from django.db import migrations

NAME = "Evaluate alerts"


def create_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.update_or_create(
        name=NAME,
        defaults={
            "func": "submissions.tasks.evaluate_alerts",
            "schedule_type": "I",  # Schedule.MINUTES
            "minutes": 1,
            "repeats": -1,
            "kwargs": "{'q_options': {'save': False}}",
        },
    )


def delete_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [("submissions", "0005_controls_alerts_heartbeat")]

    operations = [migrations.RunPython(create_schedule, delete_schedule)]
