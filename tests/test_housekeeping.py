"""Housekeeping: uploads never confirmed, old task results and old closed alerts are deleted;
everything younger, every open alert and every other file in the directory stays."""

import os
import time
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_q.models import Schedule, Task

from submissions import housekeeping
from submissions.models import Alert

pytestmark = pytest.mark.django_db

UPLOAD = "import-" + "ab" * 16


@pytest.fixture(autouse=True)
def limits(settings, tmp_path):
    settings.IMPORT_TMP_DIR = str(tmp_path)
    settings.CLEANUP_UPLOAD_HOURS = 24
    settings.CLEANUP_TASK_DAYS = 30
    settings.CLEANUP_ALERT_DAYS = 180


def upload(tmp_path, name, hours_old):
    path = tmp_path / name
    path.write_bytes(b"IMEI\n356938035643809\n")
    then = time.time() - hours_old * 3600
    os.utime(path, (then, then))
    return path


def task(name, days_old, success=True):
    stopped = timezone.now() - timedelta(days=days_old)
    return Task.objects.create(
        id=name.ljust(32, "0"),
        name=name,
        func="submissions.tasks.drive",
        started=stopped,
        stopped=stopped,
        success=success,
    )


def alert(key, days_old, closed=True):
    at = timezone.now() - timedelta(days=days_old)
    return Alert.objects.create(
        key=key, title=key, opened_at=at, checked_at=at, closed_at=at if closed else None
    )


def test_it_deletes_uploads_never_confirmed_after_the_limit_and_nothing_else(tmp_path):
    old = upload(tmp_path, UPLOAD, hours_old=25)
    old_claimed = upload(tmp_path, "import-" + "cd" * 16 + ".claimed", hours_old=30)
    young = upload(tmp_path, "import-" + "ef" * 16, hours_old=23)
    someone_elses = upload(tmp_path, "import-report.csv", hours_old=100)

    assert housekeeping.run().uploads == 2
    assert [p.exists() for p in (old, old_claimed, young, someone_elses)] == [
        False,
        False,
        True,
        True,
    ]


def test_it_deletes_task_results_older_than_the_limit_failures_too():
    task("old-success", 31)
    task("old-failure", 45, success=False)
    task("recent", 29)

    assert housekeeping.run().tasks == 2
    assert list(Task.objects.values_list("name", flat=True)) == ["recent"]


def test_it_deletes_closed_alerts_older_than_the_limit_never_an_open_one():
    alert("old_closed", 181)
    alert("old_open", 400, closed=False)
    alert("recent_closed", 10)

    assert housekeeping.run().alerts == 1
    assert sorted(Alert.objects.values_list("key", flat=True)) == ["old_open", "recent_closed"]


def test_it_deletes_in_chunks(monkeypatch):
    monkeypatch.setattr(housekeeping, "CHUNK", 2)
    for n in range(5):
        task(f"old-{n}", 40)

    assert housekeeping.run().tasks == 5
    assert not Task.objects.exists()


def test_the_command_runs_it_by_hand_and_says_what_it_deleted(tmp_path, capsys):
    upload(tmp_path, UPLOAD, hours_old=48)
    task("old", 31)

    call_command("cleanup")

    assert capsys.readouterr().out == "Deleted 1 uploads, 1 task results, 0 alerts.\n"


def test_it_runs_every_hour_on_the_cluster():
    schedule = Schedule.objects.get(name="Housekeeping")
    assert (schedule.func, schedule.schedule_type, schedule.repeats) == (
        "submissions.tasks.housekeeping",
        Schedule.HOURLY,
        -1,
    )
