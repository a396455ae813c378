"""The running side of services and job runs: state, pid and timers."""

from __future__ import annotations

import enum
import subprocess
from dataclasses import dataclass

from _common.logs import ServiceLogger
from _common.spec import JobSpec, ServiceSpec
from _common.timers import Timer


class ServiceState(enum.Enum):
    STARTING = "starting"
    RUNNING = "running"
    BACKOFF = "backoff"
    STOPPING = "stopping"
    EXITED = "exited"
    FAILED = "failed"


@dataclass(eq=False)
class Child:
    """What the reaper needs to know about one process we spawned."""

    process: subprocess.Popen[bytes]
    started_at: float
    log: ServiceLogger
    kill_timer: Timer | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    def cancel_timers(self) -> None:
        if self.kill_timer is not None:
            self.kill_timer.cancel()
            self.kill_timer = None


@dataclass(eq=False)
class Service:
    """One supervised service across all its restarts."""

    spec: ServiceSpec
    log: ServiceLogger
    state: ServiceState = ServiceState.STARTING
    child: Child | None = None
    early_exits: int = 0
    restart_timer: Timer | None = None
    last_exit_code: int = 0

    @property
    def is_running(self) -> bool:
        return self.child is not None


@dataclass(eq=False, kw_only=True)
class JobRun(Child):
    """One run of a cron job, due at ``scheduled_s`` on the wall clock."""

    spec: JobSpec
    scheduled_s: float
    timeout_timer: Timer | None = None
    is_timed_out: bool = False

    def cancel_timers(self) -> None:
        Child.cancel_timers(self)
        if self.timeout_timer is not None:
            self.timeout_timer.cancel()
            self.timeout_timer = None
