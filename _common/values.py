"""Converting raw configuration values: durations, signals, commands, names.

Converters raise ``ValueError("what is wrong|what to do")``; the caller splits
the text at ``|`` and adds the file and line.
"""

from __future__ import annotations

import logging
import os
import re
import shlex
import signal
from collections.abc import Callable
from datetime import tzinfo
from typing import Any

from _common.schedule import ScheduleError, parse_schedule, parse_timezone
from _common.spec import ProcessSpec

log = logging.getLogger(__name__)


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
