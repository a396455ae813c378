"""Load a configuration directory into one validated ``Config``.

Three sources are merged in start order: executable files in ``service/``
(sorted by name), then ``wingmate.yaml`` in file order; jobs come from
``crontab`` and from the ``cron:`` map of ``wingmate.yaml``.  Every problem
found is collected and raised together, so one run of ``wingmate check``
shows them all and nothing starts from half a configuration.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import tzinfo

from _common.crontab import CrontabEntry, parse_crontab
from _common.errors import ConfigError, ConfigErrors
from _common.schedule import local_timezone
from _common.spec import DEFAULT_STOP_TIMEOUT_S, Config, JobSpec, ServiceSpec
from _common.values import describe_process, parse_duration

__all__ = ["config_directory", "describe_process", "load_config", "parse_duration"]

log = logging.getLogger(__name__)

DEFAULT_CONFIG_DIR = "/etc/wingmate"
SHELL = "/bin/sh"


def config_directory(option: str | None, environ: Mapping[str, str]) -> str:
    """``--config``, else ``$WINGMATE_CONFIG_PATH``, else ``/etc/wingmate``."""
    return option or environ.get("WINGMATE_CONFIG_PATH") or DEFAULT_CONFIG_DIR


def default_stop_timeout(environ: Mapping[str, str]) -> float:
    """The grace period from ``WINGMATE_STOP_TIMEOUT``, else 5 seconds.

    Raises:
        ConfigError: the variable is set but is not a duration.
    """
    raw = environ.get("WINGMATE_STOP_TIMEOUT")
    if raw is None or raw.strip() == "":
        return DEFAULT_STOP_TIMEOUT_S
    try:
        return parse_duration(raw)
    except ValueError as exc:
        raise ConfigError(
            f"WINGMATE_STOP_TIMEOUT={raw!r} is not a duration",
            path="environment",
            hint=str(exc),
        ) from None


def container_timezone(environ: Mapping[str, str]) -> tzinfo:
    """The zone jobs run in unless they name one: ``TZ``, ``/etc/localtime``.

    Raises:
        ConfigError: ``TZ`` names no known zone, or the zone file is unreadable.
    """
    try:
        return local_timezone(environ)
    except ValueError as exc:
        raise ConfigError(
            f"cannot tell the container's time zone: {exc}",
            path="environment" if "TZ" in environ else "/etc/localtime",
        ) from None


@dataclass
class Loader:
    """Collects specs and errors while reading one configuration directory."""

    directory: str
    environ: Mapping[str, str]
    has_shell: bool
    stop_timeout_s: float
    timezone: tzinfo
    services: list[ServiceSpec] = field(default_factory=list)
    jobs: list[JobSpec] = field(default_factory=list)
    errors: list[ConfigError] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)

    def claim_name(self, name: str, origin: str, path: str, line: int | None) -> bool:
        if name in self.names:
            self.errors.append(
                ConfigError(
                    f"the name '{name}' is used twice (first by {self.names[name]})",
                    path=path,
                    line=line,
                    hint="rename one of them; names must be unique across "
                    "service/, crontab and wingmate.yaml",
                )
            )
            return False
        self.names[name] = origin
        return True

    def read_text(self, path: str) -> str | None:
        """The file's text, or None when absent; unreadable is an error."""
        if not os.path.exists(path):
            return None
        try:
            with open(path, encoding="utf-8") as file:
                return file.read()
        except (OSError, UnicodeDecodeError) as exc:
            self.errors.append(
                ConfigError(
                    f"cannot read: {exc}",
                    path=path,
                    hint="make it a readable UTF-8 text file",
                )
            )
            return None


def load_config(
    directory: str,
    environ: Mapping[str, str] = os.environ,
    *,
    has_shell: bool | None = None,
) -> Config:
    """Read and validate every source in ``directory``.

    Raises:
        ConfigErrors: one or more problems, each with its file, line and hint.
            An empty or missing directory is such a problem too.
    """
    if has_shell is None:
        has_shell = os.access(SHELL, os.X_OK)
    try:
        stop_timeout_s = default_stop_timeout(environ)
        timezone = container_timezone(environ)
    except ConfigError as exc:
        raise ConfigErrors([exc]) from None

    loader = Loader(directory, environ, has_shell, stop_timeout_s, timezone)
    if not os.path.isdir(directory):
        raise ConfigErrors([_missing_directory_error(directory)])

    _load_service_dir(loader)
    _load_crontab(loader)
    if os.path.exists(os.path.join(directory, "wingmate.yaml")):
        from _common.yamlconfig import load_yaml

        load_yaml(loader)

    if loader.errors:
        raise ConfigErrors(loader.errors)
    if not loader.services and not loader.jobs:
        raise ConfigErrors([_empty_directory_error(directory)])
    return Config(directory, tuple(loader.services), tuple(loader.jobs))


def _missing_directory_error(directory: str) -> ConfigError:
    return ConfigError(
        "configuration directory not found",
        path=directory,
        hint="create it with service/, crontab or wingmate.yaml, or point "
        "--config or WINGMATE_CONFIG_PATH at yours",
    )


def _empty_directory_error(directory: str) -> ConfigError:
    return ConfigError(
        "no services and no jobs configured",
        path=directory,
        hint="add executable files to service/, lines to crontab, or entries "
        "to wingmate.yaml",
    )


# --- service/ ---------------------------------------------------------------


def _load_service_dir(loader: Loader) -> None:
    service_dir = os.path.join(loader.directory, "service")
    if not os.path.isdir(service_dir):
        return
    for entry in sorted(os.listdir(service_dir)):
        path = os.path.join(service_dir, entry)
        if entry.startswith(".") or not os.path.isfile(path):
            continue
        if not os.access(path, os.X_OK):
            log.warning(
                "%s is not executable and is skipped; run 'chmod +x %s' "
                "to make it a service",
                path,
                path,
            )
            continue
        if not loader.claim_name(entry, path, path, None):
            continue
        loader.services.append(
            ServiceSpec(
                name=entry,
                command=(path,),
                origin=path,
                stop_timeout_s=loader.stop_timeout_s,
            )
        )


# --- crontab ----------------------------------------------------------------


def _load_crontab(loader: Loader) -> None:
    path = os.path.join(loader.directory, "crontab")
    text = loader.read_text(path)
    if text is None:
        return
    entries, errors = parse_crontab(
        text, path, loader.has_shell, default_timezone=loader.timezone
    )
    loader.errors.extend(errors)
    for entry in entries:
        name = f"crontab:{entry.line}"
        if loader.claim_name(name, f"{path}:{entry.line}", path, entry.line):
            loader.jobs.append(_job_from_crontab(loader, entry, name, path))


def _job_from_crontab(
    loader: Loader, entry: CrontabEntry, name: str, path: str
) -> JobSpec:
    return JobSpec(
        name=name,
        command=entry.command,
        origin=f"{path}:{entry.line}",
        environ=entry.environ,
        schedule=entry.schedule,
        stop_timeout_s=loader.stop_timeout_s,
    )
