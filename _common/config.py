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
import re
import shlex
import signal
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import Any

from _common.crontab import CrontabEntry, parse_crontab
from _common.errors import ConfigError, ConfigErrors, IdentityError
from _common.schedule import (
    ScheduleError,
    local_timezone,
    parse_schedule,
    parse_timezone,
)
from _common.spec import (
    DEFAULT_STOP_TIMEOUT_S,
    Config,
    JobSpec,
    OutputMode,
    Overlap,
    ProcessSpec,
    RestartPolicy,
    ServiceSpec,
)
from _common.users import Identity, resolve_group, resolve_identity
from _common.yamlfile import (
    Located,
    is_null,
    line_of,
    mapping_items,
    read_yaml,
    scalar_value,
)

log = logging.getLogger(__name__)

DEFAULT_CONFIG_DIR = "/etc/wingmate"
SHELL = "/bin/sh"
NAME_PATTERN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.@:+-]*")

COMMON_KEYS = frozenset(
    {"command", "environ", "user", "group", "working_dir", "setsid", "output"}
)
SERVICE_KEYS = COMMON_KEYS | {
    "restart",
    "stop_signal",
    "stop_timeout",
    "critical",
    "pidfile",
    # Accepted from the original project's format:
    "background",  # informational: pidfile is what makes a service a daemon
    "startsecs",  # how long wmpidproxy waits for the pid file
    "autostart",  # false: configured but never started
    "autorestart",  # false: restart never (unless restart says otherwise)
}
JOB_KEYS = COMMON_KEYS | {"schedule", "timeout", "overlap", "timezone", "stop_timeout"}


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
class _Loader:
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

    loader = _Loader(directory, environ, has_shell, stop_timeout_s, timezone)
    if not os.path.isdir(directory):
        raise ConfigErrors([_missing_directory_error(directory)])

    _load_service_dir(loader)
    _load_crontab(loader)
    _load_yaml(loader)

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


def _load_service_dir(loader: _Loader) -> None:
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


def _load_crontab(loader: _Loader) -> None:
    path = os.path.join(loader.directory, "crontab")
    text = _read_text(loader, path)
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
    loader: _Loader, entry: CrontabEntry, name: str, path: str
) -> JobSpec:
    return JobSpec(
        name=name,
        command=entry.command,
        origin=f"{path}:{entry.line}",
        environ=entry.environ,
        schedule=entry.schedule,
        stop_timeout_s=loader.stop_timeout_s,
    )


def _read_text(loader: _Loader, path: str) -> str | None:
    if not os.path.exists(path):
        return None
    try:
        with open(path, encoding="utf-8") as file:
            return file.read()
    except (OSError, UnicodeDecodeError) as exc:
        loader.errors.append(
            ConfigError(
                f"cannot read: {exc}",
                path=path,
                hint="make it a readable UTF-8 text file",
            )
        )
        return None


# --- wingmate.yaml ----------------------------------------------------------


def _load_yaml(loader: _Loader) -> None:
    path = os.path.join(loader.directory, "wingmate.yaml")
    text = _read_text(loader, path)
    if text is None:
        return
    try:
        root = read_yaml(text, path)
        if root is None or is_null(root):
            return
        sections = mapping_items(root, path, "wingmate.yaml")
    except ConfigError as exc:
        loader.errors.append(exc)
        return

    for key, node in sections:
        if key.value not in ("service", "cron"):
            loader.errors.append(
                ConfigError(
                    f"unknown section '{key.value}'",
                    path=path,
                    line=key.line,
                    hint="the top level takes 'service:' and 'cron:'",
                )
            )
            continue
        if is_null(node):
            continue
        try:
            entries = mapping_items(node, path, f"'{key.value}:'")
        except ConfigError as exc:
            loader.errors.append(exc)
            continue
        for name, entry_node in entries:
            _load_yaml_entry(loader, path, key.value, name, entry_node)


def _load_yaml_entry(
    loader: _Loader, path: str, section: str, name: Located, node: Any
) -> None:
    if not NAME_PATTERN.fullmatch(name.value):
        loader.errors.append(
            ConfigError(
                f"'{name.value}' is not a usable name",
                path=path,
                line=name.line,
                hint="use letters, digits and . _ - @ : + (no spaces)",
            )
        )
        return
    try:
        settings = mapping_items(node, path, f"'{name.value}'")
    except ConfigError as exc:
        loader.errors.append(exc)
        return

    allowed = SERVICE_KEYS if section == "service" else JOB_KEYS
    values: dict[str, Located] = {}
    for key, value_node in settings:
        if key.value not in allowed:
            loader.errors.append(_unknown_key_error(path, key, section, allowed))
            continue
        values[key.value] = Located(scalar_value(value_node), line_of(value_node))

    parsed = _EntryParser(loader, path, name, values)
    spec = parsed.service() if section == "service" else parsed.job()
    if spec is None or not loader.claim_name(
        name.value, f"{path}:{name.line}", path, name.line
    ):
        return
    if isinstance(spec, ServiceSpec):
        loader.services.append(spec)
    else:
        loader.jobs.append(spec)


def _unknown_key_error(
    path: str, key: Located, section: str, allowed: frozenset[str]
) -> ConfigError:
    kind = "service" if section == "service" else "cron job"
    return ConfigError(
        f"unknown key '{key.value}' in a {kind}",
        path=path,
        line=key.line,
        hint=f"known keys: {', '.join(sorted(allowed))}",
    )


class _EntryParser:
    """Turns the raw settings of one YAML entry into a spec, noting errors."""

    def __init__(
        self,
        loader: _Loader,
        path: str,
        name: Located,
        values: dict[str, Located],
    ) -> None:
        self.loader = loader
        self.path = path
        self.name = name
        self.values = values
        self.is_valid = True

    def fail(self, key: str, message: str, hint: str) -> None:
        line = self.values[key].line if key in self.values else self.name.line
        self.loader.errors.append(
            ConfigError(message, path=self.path, line=line, hint=hint)
        )
        self.is_valid = False

    def get(self, key: str, convert: Callable[[Any], Any], default: Any) -> Any:
        if key not in self.values or self.values[key].value is None:
            return default
        try:
            return convert(self.values[key].value)
        except ValueError as exc:
            what, _, hint = str(exc).partition("|")
            self.fail(key, f"{key}: {what}", hint)
            return default

    def common(self) -> dict[str, Any]:
        command = self.get("command", to_command, None)
        if command is None and "command" not in self.values:
            self.fail(
                "command",
                f"'{self.name.value}' has no command",
                "add 'command: [program, arg, ...]'",
            )
        user = self.get("user", to_id_name, None)
        group = self.get("group", to_id_name, None)
        return {
            "name": self.name.value,
            "command": command or (),
            "origin": f"{self.path}:{self.name.line}",
            "environ": self.get("environ", to_environ, ()),
            "user": user,
            "group": group,
            "identity": self.identity(user, group),
            "working_dir": self.get("working_dir", to_working_dir, None),
            "is_new_session": self.get("setsid", to_bool, False),
            "output": self.get("output", enum_of(OutputMode), OutputMode.TAG),
            "stop_timeout_s": self.get(
                "stop_timeout", parse_duration, self.loader.stop_timeout_s
            ),
        }

    def identity(self, user: str | None, group: str | None) -> Identity | None:
        if user is None and group is None:
            return None
        key = "user" if user is not None else "group"
        try:
            if user is not None:
                return resolve_identity(user, group)
            assert group is not None
            gid = resolve_group(group)
            return Identity(
                uid=os.getuid(),
                gid=gid,
                groups=(gid,),
                home=self.loader.environ.get("HOME", "/"),
                user_name=None,
            )
        except IdentityError as exc:
            self.fail(key, exc.message, exc.hint or "")
            return None

    def service(self) -> ServiceSpec | None:
        settings = self.common()
        restart_default = RestartPolicy.ALWAYS
        if self.get("autorestart", to_bool, True) is False:
            restart_default = RestartPolicy.NEVER
        restart = self.get("restart", enum_of(RestartPolicy), restart_default)
        self.get("background", to_bool, False)
        is_autostart = self.get("autostart", to_bool, True)
        start_timeout_s = self.get("startsecs", parse_duration, None)
        stop_signal = self.get("stop_signal", to_signal, signal.SIGTERM)
        is_critical = self.get("critical", to_bool, False)
        pid_file = self.get("pidfile", to_absolute_path, None)
        if not self.is_valid:
            return None
        return ServiceSpec(
            **settings,
            restart=restart,
            stop_signal=stop_signal,
            is_critical=is_critical,
            pid_file=pid_file,
            start_timeout_s=start_timeout_s,
            is_autostart=is_autostart,
        )

    def job(self) -> JobSpec | None:
        settings = self.common()
        timezone = self.get("timezone", to_timezone, None)
        schedule = None
        if "schedule" not in self.values:
            self.fail(
                "schedule",
                f"cron job '{self.name.value}' has no schedule",
                'add e.g. schedule: "*/5 * * * *"',
            )
        else:
            zone = timezone or self.loader.timezone
            schedule = self.get("schedule", lambda raw: to_schedule(raw, zone), None)
        timeout_s = self.get("timeout", parse_duration, None)
        overlap = self.get("overlap", enum_of(Overlap), Overlap.SKIP)
        if not self.is_valid or schedule is None:
            return None
        return JobSpec(
            **settings, schedule=schedule, timeout_s=timeout_s, overlap=overlap
        )


# --- value converters: raise ValueError("what|hint") ------------------------


def to_command(raw: Any) -> tuple[str, ...]:
    if isinstance(raw, list) and raw and all(_is_plain(item) for item in raw):
        return tuple(str(item) for item in raw)
    raise ValueError(
        "must be a non-empty list of strings|write it as [program, arg, ...]"
    )


def to_environ(raw: Any) -> tuple[tuple[str, str], ...]:
    if isinstance(raw, dict):
        return tuple((str(key), _env_value(value)) for key, value in raw.items())
    if not isinstance(raw, list):
        raise ValueError('must be a list of KEY=VALUE strings|e.g. ["PORT=8080"]')
    pairs = []
    for item in raw:
        key, sep, value = str(item).partition("=")
        if not isinstance(item, str) or not sep or not key:
            raise ValueError(
                f'{item!r} is not KEY=VALUE|write each entry as "KEY=VALUE"'
            )
        pairs.append((key, value))
    return tuple(pairs)


def _env_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _is_plain(value: Any) -> bool:
    return isinstance(value, str | int | float) and not isinstance(value, bool)


def to_id_name(raw: Any) -> str:
    if _is_plain(raw) and str(raw).strip():
        return str(raw).strip()
    raise ValueError('must be a name or a number|e.g. user: app or user: "1000"')


def to_working_dir(raw: Any) -> str:
    if not isinstance(raw, str) or not raw:
        raise ValueError("must be a directory path|e.g. working_dir: /srv/app")
    if not os.path.isdir(raw):
        log.warning(
            "working_dir %s does not exist yet; the service cannot start until it does",
            raw,
        )
    return raw


def to_absolute_path(raw: Any) -> str:
    if isinstance(raw, str) and raw.startswith("/"):
        return raw
    raise ValueError("must be an absolute path|e.g. pidfile: /run/sshd.pid")


def to_bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    raise ValueError("must be true or false|write true or false without quotes")


def to_signal(raw: Any) -> signal.Signals:
    text = str(raw).strip().upper()
    if text.isdigit():
        try:
            return signal.Signals(int(text))
        except ValueError:
            pass
    name = text if text.startswith("SIG") else f"SIG{text}"
    try:
        return signal.Signals[name]
    except KeyError:
        raise ValueError(
            f"{raw!r} is not a signal|use a name such as TERM, INT, QUIT or HUP"
        ) from None


def to_timezone(raw: Any) -> tzinfo:
    try:
        return parse_timezone(str(raw))
    except ValueError as exc:
        message, _, hint = str(exc).partition("; ")
        raise ValueError(f"{message}|{hint}") from None


def to_schedule(raw: Any, zone: Any) -> Any:
    if not isinstance(raw, str):
        raise ValueError('must be a string|quote it: schedule: "*/5 * * * *"')
    try:
        return parse_schedule(raw, zone)
    except ScheduleError as exc:
        raise ValueError(f"{exc.message}|{exc.hint}") from None


def enum_of(kind: type[Any]) -> Callable[[Any], Any]:
    def convert(raw: Any) -> Any:
        try:
            return kind(str(raw).strip().lower())
        except ValueError:
            choices = " or ".join(repr(member.value) for member in kind)
            raise ValueError(f"{raw!r} is not valid|use {choices}") from None

    return convert


_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m|h)?\s*")


def parse_duration(raw: Any) -> float:
    """Seconds from a number or a string such as ``10``, ``1.5s``, ``500ms``, ``2m``.

    Raises:
        ValueError: not a non-negative duration; the text says what is accepted.
    """
    if isinstance(raw, bool):
        raise ValueError("must be a number of seconds|e.g. 10 or 500ms")
    if isinstance(raw, int | float):
        if raw < 0:
            raise ValueError("must not be negative|e.g. 10 or 500ms")
        return float(raw)
    match = _DURATION.fullmatch(str(raw))
    if match is None:
        raise ValueError(
            f"{raw!r} is not a duration|write seconds (10), or use ms, s, m or h"
        )
    return float(match.group(1)) * _UNITS[match.group(2) or "s"]


def describe_process(spec: ProcessSpec) -> str:
    """One line for ``wingmate check``: the command and what changes for it."""
    parts = [shlex.join(spec.command)]
    if spec.user or spec.group:
        parts.append(f"as {spec.user or ''}{':' + spec.group if spec.group else ''}")
    if spec.working_dir:
        parts.append(f"in {spec.working_dir}")
    return ", ".join(parts)
