"""The two things ``wingmate`` does: check a configuration, or run it."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from datetime import UTC, datetime

from _common.backoff import backoff_from_environ
from _common.config import describe_process, load_config
from _common.errors import ConfigError, ConfigErrors
from _common.schedule import next_runs
from _common.spec import Config, ServiceSpec
from _common.supervisor import Supervisor


def check(directory: str, environ: Mapping[str, str] = os.environ) -> int:
    """Validate ``directory`` and print each service and job; 0 when valid.

    Raises:
        ConfigErrors: the configuration has problems; nothing is printed.
    """
    config = load_config(directory, environ)
    print_summary(config)
    return 0


def print_summary(config: Config) -> None:
    now = datetime.now(UTC)
    out = sys.stdout
    out.write(f"configuration {config.directory} is valid\n")
    out.write(f"{len(config.services)} services:\n")
    for service in config.services:
        out.write(f"  {service.name}: {describe_process(service)}{_extras(service)}\n")
        out.write(f"    from {service.origin}\n")
    out.write(f"{len(config.jobs)} jobs:\n")
    for job in config.jobs:
        out.write(f"  {job.name}: [{job.schedule}] {describe_process(job)}\n")
        out.write(f"    from {job.origin}\n")
        if job.schedule.is_reboot:
            out.write("    runs once when wingmate starts\n")
            continue
        # Shown in wingmate's own zone, the container's, whatever the job's.
        for run in next_runs(job.schedule, now, 3):
            local = run.astimezone().isoformat(timespec="seconds")
            out.write(f"    next: {local}\n")


def _extras(service: ServiceSpec) -> str:
    notes = []
    if service.restart.value != "always":
        notes.append(f"restart {service.restart.value}")
    if service.is_critical:
        notes.append("critical")
    if service.pid_file:
        notes.append(f"pid file {service.pid_file}")
    return f" ({', '.join(notes)})" if notes else ""


def run(directory: str, environ: Mapping[str, str] = os.environ) -> int:
    """Load ``directory`` and supervise it until shutdown; the exit code.

    Raises:
        ConfigErrors: the configuration has problems; nothing was started.
    """
    config = load_config(directory, environ)
    try:
        backoff = backoff_from_environ(environ)
    except ValueError as exc:
        raise ConfigErrors(
            [ConfigError(str(exc), path="environment", hint="unset it or fix it")]
        ) from None
    return Supervisor(config, backoff, environ).run()
