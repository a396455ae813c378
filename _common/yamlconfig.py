"""The ``service:`` and ``cron:`` entries of ``wingmate.yaml``, as specs.

Imported only when a configuration has a ``wingmate.yaml``, so that PyYAML
costs nothing to configurations without one.
"""

from __future__ import annotations

import os
import re
import signal
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from _common.errors import ConfigError, IdentityError
from _common.spec import (
    JobSpec,
    OutputMode,
    Overlap,
    RestartPolicy,
    ServiceSpec,
)
from _common.users import Identity, resolve_group, resolve_identity
from _common.values import (
    enum_of,
    parse_duration,
    to_absolute_path,
    to_bool,
    to_command,
    to_environ,
    to_id_name,
    to_schedule,
    to_signal,
    to_timezone,
    to_working_dir,
)
from _common.yamlfile import (
    Located,
    is_null,
    line_of,
    mapping_items,
    read_yaml,
    scalar_value,
)

if TYPE_CHECKING:
    from _common.config import Loader

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


def load_yaml(loader: Loader) -> None:
    path = os.path.join(loader.directory, "wingmate.yaml")
    text = loader.read_text(path)
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
    loader: Loader, path: str, section: str, name: Located, node: Any
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
        loader: Loader,
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
