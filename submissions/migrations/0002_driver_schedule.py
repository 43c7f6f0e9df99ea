"""The every-minute safety net: `submissions.tasks.ensure_driver` as a django-q Schedule.

Idempotent (update_or_create by name), so running it again or after someone edited the
schedule in the admin puts it back as designed. Successes are not saved (save=False): one
run a minute would otherwise fill the task table.
"""

from django.db import migrations

NAME = "Keep the order driver running"


def create_schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name=NAME,
        defaults={
            "func": "submissions.tasks.ensure_driver",
            "schedule_type": "I",  # Schedule.MINUTES
            "minutes": 1,
            "repeats": -1,
            "kwargs": "{'q_options': {'save': False}}",
        },
    )


def delete_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("submissions", "0001_initial"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(create_schedule, delete_schedule)]
