"""The one exception tree of wingmate, wmpidproxy and wmexec.

    WingmateError                  exit code 1 unless a subclass says otherwise
     ├── ConfigError               one problem in a configuration file (exit 2)
     ├── ConfigErrors              every problem found in one load (exit 2)
     ├── UsageError                a bad command line (exit 2)
     ├── IdentityError             unknown user or group, or no right to switch
     ├── PidFileError              a pid file that is missing, empty or wrong
     └── TargetError               the program to run cannot be run
          ├── TargetNotFound       not found in PATH (exit 127)
          └── TargetNotExecutable  found but cannot be executed (exit 126)

Every error answers three questions: what is wrong, where (a file and line
when there is one) and what to do.  ``str(error)`` renders all three on one
line, ready to print after the program's name.
"""

from __future__ import annotations

from collections.abc import Iterable


class WingmateError(Exception):
    """Base class: a failure that the entry script reports in one line."""

    exit_code: int = 1

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.line = line
        self.hint = hint

    @property
    def location(self) -> str | None:
        """``path:line``, ``path`` or None, for the front of the message."""
        if self.path is None:
            return None
        if self.line is None:
            return self.path
        return f"{self.path}:{self.line}"

    def __str__(self) -> str:
        text = self.message
        if self.location is not None:
            text = f"{self.location}: {text}"
        if self.hint:
            text = f"{text}; {self.hint}"
        return text


class ConfigError(WingmateError):
    """One problem in the configuration directory."""

    exit_code = 2


class ConfigErrors(WingmateError):
    """All problems found while loading a configuration, in file order."""

    exit_code = 2

    def __init__(self, errors: Iterable[ConfigError]) -> None:
        self.errors = list(errors)
        count = len(self.errors)
        super().__init__(f"{count} configuration error{'s' if count != 1 else ''}")

    def __str__(self) -> str:
        return "\n".join(str(error) for error in self.errors)


class UsageError(WingmateError):
    """The command line cannot be understood."""

    exit_code = 2


class IdentityError(WingmateError):
    """A user or group cannot be resolved, or the process may not switch."""


class PidFileError(WingmateError):
    """A pid file does not appear, or does not name a process we may watch."""


class TargetError(WingmateError):
    """The target program cannot be started."""


class TargetNotFound(TargetError):
    """The target is not in PATH or does not exist."""

    exit_code = 127


class TargetNotExecutable(TargetError):
    """The target exists but cannot be executed."""

    exit_code = 126
