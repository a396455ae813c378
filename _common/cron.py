"""Deciding which jobs are due: one timer for all of them.

Due times are instants on the wall clock (seconds since the epoch).  Each job
remembers the scheduled time of its last run, and the next one is always
computed strictly after it, so a wall clock that jumps back never runs a job
twice for the same time.  A clock that jumps forward past several due times
runs each such job once, and says how many runs it missed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from _common.logs import service_logger
from _common.spec import JobSpec

log = logging.getLogger(__name__)

MAX_COUNTED_MISSES = 10_000
LATE_TOLERANCE_S = 1.0


@dataclass(frozen=True, slots=True)
class DueRun:
    """One run of a job that should start now."""

    job: JobSpec
    scheduled_s: float
    missed: int


def next_due_after(job: JobSpec, after_s: float) -> float | None:
    """The job's first due instant strictly after ``after_s``, or None."""
    moment = datetime.fromtimestamp(after_s, UTC)
    due = job.schedule.next_after(moment)
    return None if due is None else due.timestamp()


class CronTable:
    """The next due time of every job, and the runs that are due."""

    def __init__(self, jobs: tuple[JobSpec, ...], now_s: float) -> None:
        self.next_due: dict[str, float] = {}
        self.jobs = {job.name: job for job in jobs}
        for job in jobs:
            if job.schedule.is_reboot:
                continue
            due = next_due_after(job, now_s)
            if due is not None:
                self.next_due[job.name] = due

    def reboot_jobs(self) -> list[JobSpec]:
        """The ``@reboot`` jobs, run once when wingmate starts."""
        return [job for job in self.jobs.values() if job.schedule.is_reboot]

    def earliest(self) -> float | None:
        """The next instant any job is due, or None when none ever is."""
        return min(self.next_due.values(), default=None)

    def pop_due(self, now_s: float) -> list[DueRun]:
        """The runs due at ``now_s``; each job's next due time moves on."""
        runs = []
        for name, due in list(self.next_due.items()):
            if due > now_s:
                continue
            job = self.jobs[name]
            missed = self._count_missed(job, due, now_s)
            runs.append(DueRun(job, due, missed))
            following = next_due_after(job, max(due, now_s))
            if following is None:
                del self.next_due[name]
            else:
                self.next_due[name] = following
        return runs

    def _count_missed(self, job: JobSpec, due: float, now_s: float) -> int:
        if now_s - due < LATE_TOLERANCE_S:
            return 0
        missed = 0
        following = next_due_after(job, due)
        while following is not None and following <= now_s:
            missed += 1
            if missed >= MAX_COUNTED_MISSES:
                break
            following = next_due_after(job, following)
        if missed:
            service_logger(log, job.name).warning(
                "the clock jumped forward past %d more scheduled runs; "
                "running once now for all of them",
                missed,
            )
        return missed
