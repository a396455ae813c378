"""Due jobs on a wall clock that may jump: never twice, missed runs once."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from _common.cron import CronTable
from _common.schedule import parse_schedule
from _common.spec import JobSpec

START = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC).timestamp()


def job(expression: str, name: str = "job") -> JobSpec:
    return JobSpec(
        name=name,
        command=("true",),
        origin="test",
        schedule=parse_schedule(expression, UTC),
    )


def test_first_due_time_follows_start() -> None:
    """A job every 10 seconds is first due at the next multiple of 10."""
    table = CronTable((job("*/10 * * * * *"),), START + 3)
    assert table.earliest() == START + 10


def test_due_job_runs_once_and_moves_on() -> None:
    """Popping a due job returns it once and schedules the next time."""
    table = CronTable((job("*/10 * * * * *"),), START)
    (run,) = table.pop_due(START + 10)
    assert (run.scheduled_s, run.missed) == (START + 10, 0)
    assert table.pop_due(START + 10.5) == []
    assert table.earliest() == START + 20


def test_clock_jumping_back_never_runs_a_time_twice() -> None:
    """After a run, a clock set back an hour does not run that time again."""
    table = CronTable((job("0 * * * *"),), START)
    hour = 3600
    (first,) = table.pop_due(START + hour)
    assert table.pop_due(START + hour - 1800) == []
    assert table.earliest() == START + 2 * hour
    assert first.scheduled_s == START + hour


def test_clock_jumping_forward_runs_missed_job_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A jump over five due times runs the job once and counts the misses."""
    table = CronTable((job("* * * * *"),), START)
    (run,) = table.pop_due(START + 5 * 60 + 30)
    assert run.missed == 4
    assert "4 more scheduled runs" in caplog.text
    assert table.earliest() == START + 6 * 60


def test_reboot_jobs_are_listed_apart() -> None:
    """@reboot jobs have no due time and are returned for the start."""
    table = CronTable((job("@reboot", "boot"), job("@hourly", "hourly")), START)
    assert [spec.name for spec in table.reboot_jobs()] == ["boot"]
    assert table.earliest() == START + 3600


def test_each_due_job_is_returned() -> None:
    """Two jobs due at the same second are both returned."""
    table = CronTable((job("* * * * *", "a"), job("*/2 * * * *", "b")), START)
    runs = table.pop_due(START + 120)
    assert sorted(run.job.name for run in runs) == ["a", "b"]
