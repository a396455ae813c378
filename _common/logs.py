"""Logging for the three programs: one format, the service name on every line.

Each line shows the program, its pid, the level, the service or job it is
about (``-`` for the program itself) and the message::

    wingmate[1] WARNING web: exited with code 3; restarting in 2.0s

``WINGMATE_LOG_LEVEL`` sets the level and ``WINGMATE_LOG_FORMAT=json`` turns
each line into one JSON object for log collectors.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Mapping, MutableMapping
from typing import Any, NoReturn, TextIO

DEFAULT_LEVEL = "INFO"
TEXT_FORMAT = "%(program)s[%(process)d] %(levelname)s %(service)s: %(message)s"


class ServiceLogger(logging.LoggerAdapter[logging.Logger]):
    """A logger whose every record names one service or job."""

    def process(
        self, msg: Any, kwargs: MutableMapping[str, Any]
    ) -> tuple[Any, MutableMapping[str, Any]]:
        kwargs["extra"] = {**(kwargs.get("extra") or {}), **(self.extra or {})}
        return msg, kwargs


def service_logger(logger: logging.Logger, name: str) -> ServiceLogger:
    """Bind the service or job ``name`` to every record sent through ``logger``."""
    return ServiceLogger(logger, {"service": name})


class _ContextFilter(logging.Filter):
    """Fills in the program name, and ``-`` for records about no service."""

    def __init__(self, program: str) -> None:
        super().__init__()
        self.program = program

    def filter(self, record: logging.LogRecord) -> bool:
        record.program = self.program
        if not hasattr(record, "service"):
            record.service = "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record, with the same fields as the text format."""

    def format(self, record: logging.LogRecord) -> str:
        import json  # only JSON mode pays for the module

        entry: dict[str, Any] = {
            "time": iso_time(record.created),
            "program": getattr(record, "program", "-"),
            "pid": record.process,
            "level": record.levelname,
            "service": getattr(record, "service", "-"),
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def iso_time(created: float) -> str:
    seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
    return f"{seconds}.{int(created % 1 * 1000):03d}Z"


def is_json_format(environ: Mapping[str, str] = os.environ) -> bool:
    """True when ``WINGMATE_LOG_FORMAT`` asks for JSON lines."""
    return environ.get("WINGMATE_LOG_FORMAT", "").strip().lower() == "json"


def setup_logging(
    program: str,
    environ: Mapping[str, str] = os.environ,
    stream: TextIO | None = None,
) -> None:
    """Send all records to stderr in the configured format and level.

    Called once by each entry script.  An unknown ``WINGMATE_LOG_LEVEL`` falls
    back to INFO with a warning rather than stopping the program.
    """
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.addFilter(_ContextFilter(program))
    if is_json_format(environ):
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))

    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)

    wanted = environ.get("WINGMATE_LOG_LEVEL", DEFAULT_LEVEL).strip().upper()
    level = logging.getLevelName(wanted)
    if wanted in ("WARN", "FATAL"):
        level = logging.WARNING if wanted == "WARN" else logging.CRITICAL
    if not isinstance(level, int):
        root.setLevel(DEFAULT_LEVEL)
        root.warning(
            "WINGMATE_LOG_LEVEL=%s is not a level; using %s "
            "(choose DEBUG, INFO, WARNING, ERROR or CRITICAL)",
            wanted,
            DEFAULT_LEVEL,
        )
        return
    root.setLevel(level)


def exit_now(code: int) -> NoReturn:
    """Flush the logs and standard streams, then exit without interpreter teardown.

    A supervisor (or the container runtime) learns that we ended from our
    exit, and the teardown of the interpreter takes about 10 ms more, which
    is longer than a whole clean shutdown should take.
    """
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
