"""The books' schedules (docs/statement.md): yesterday's statement every night at 03:30 UTC
(`submissions.tasks.statement_yesterday`), and the provider contract canary every ten minutes
(`submissions.tasks.check_contract`). Idempotent (update_or_create by name); the canary's
successes are not saved, the statements' are (one a day, with their summary)."""

from datetime import datetime, time, timedelta
from datetime import timezone as dt_timezone

from django.db import migrations

STATEMENT = "Daily statement (yesterday)"
CANARY = "Provider contract canary"


def next_night(now=None):
    now = now or datetime.now(dt_timezone.utc)
    night = datetime.combine(now.date(), time(3, 30), tzinfo=dt_timezone.utc)
    return night if night > now else night + timedelta(days=1)


def create_schedules(apps, schema_editor):
    schedules = apps.get_model("django_q", "Schedule").objects
    schedules.update_or_create(
        name=STATEMENT,
        defaults={
            "func": "submissions.tasks.statement_yesterday",
            "schedule_type": "D",  # Schedule.DAILY
            "repeats": -1,
            "next_run": next_night(),
        },
    )
    schedules.update_or_create(
        name=CANARY,
        defaults={
            "func": "submissions.tasks.check_contract",
            "schedule_type": "I",  # Schedule.MINUTES
            "minutes": 10,
            "repeats": -1,
            "kwargs": "{'q_options': {'save': False}}",
        },
    )


def delete_schedules(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name__in=[STATEMENT, CANARY]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("submissions", "0012_statement_breaker_canary"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(create_schedules, delete_schedules)]
