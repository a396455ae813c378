"""What the configuration asks for, as frozen values the running code reads.

Parsers build these; nothing downstream touches configuration text.
"""

from __future__ import annotations

import enum
import signal
from dataclasses import dataclass

from _common.schedule import Schedule
from _common.users import Identity

DEFAULT_STOP_TIMEOUT_S = 5.0


class RestartPolicy(enum.Enum):
    ALWAYS = "always"
    ON_FAILURE = "on-failure"
    NEVER = "never"


class Overlap(enum.Enum):
    SKIP = "skip"
    ALLOW = "allow"


class OutputMode(enum.Enum):
    TAG = "tag"
    INHERIT = "inherit"


@dataclass(frozen=True, slots=True, kw_only=True)
class ProcessSpec:
    """How to spawn one service or job."""

    name: str
    command: tuple[str, ...]
    origin: str
    environ: tuple[tuple[str, str], ...] = ()
    user: str | None = None
    group: str | None = None
    identity: Identity | None = None
    working_dir: str | None = None
    is_new_session: bool = False
    output: OutputMode = OutputMode.TAG


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceSpec(ProcessSpec):
    """A long-running service: restarted after it exits, per its policy."""

    restart: RestartPolicy = RestartPolicy.ALWAYS
    stop_signal: signal.Signals = signal.SIGTERM
    stop_timeout_s: float = DEFAULT_STOP_TIMEOUT_S
    is_critical: bool = False
    pid_file: str | None = None
    start_timeout_s: float | None = None
    is_autostart: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class JobSpec(ProcessSpec):
    """A scheduled job: one run per due time of its schedule."""

    schedule: Schedule
    timeout_s: float | None = None
    overlap: Overlap = Overlap.SKIP
    stop_timeout_s: float = DEFAULT_STOP_TIMEOUT_S


@dataclass(frozen=True, slots=True)
class Config:
    """Everything wingmate runs, in start order."""

    directory: str
    services: tuple[ServiceSpec, ...]
    jobs: tuple[JobSpec, ...]
