"""Read a daemon's pid file and check that it names a process we may watch.

A pid file holds the daemon's pid on its first line; anything after the first
line is ignored, so multi-line files such as PostgreSQL's postmaster.pid work.
Every error names the file and quotes what it holds.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from _common.errors import PidFileError

# Enough for any pid and a few extra lines; a larger file is not a pid file.
_MAX_READ_BYTES = 4096
_QUOTE_CHARS = 40


def read_pid_text(path: str) -> str | None:
    """Return the text of the pid file at ``path``, or None if it does not exist.

    Raises:
        PidFileError: the file exists but cannot be read.
    """
    try:
        with open(path, "rb") as file:
            data = file.read(_MAX_READ_BYTES)
    except FileNotFoundError:
        return None
    except OSError as error:
        raise PidFileError(
            f"cannot read the pid file: {error.strerror}",
            path=path,
            hint="check its permissions and that its directory exists",
        ) from error
    return data.decode("utf-8", errors="replace")


def parse_pid(text: str, path: str) -> int:
    """Return the pid written on the first line of ``text``.

    Raises:
        PidFileError: the first line is empty, not a decimal number, or 0.
    """
    first_line = text.split("\n", 1)[0].strip()
    if not first_line:
        raise PidFileError(
            f"pid file is empty (content {quote(text)})",
            path=path,
            hint="the daemon should write its pid there once it runs",
        )
    if not (first_line.isascii() and first_line.isdigit()):
        raise PidFileError(
            f"pid file does not hold a pid (content {quote(text)})",
            path=path,
            hint="point --pid-file at the file where the daemon writes its pid",
        )
    pid = int(first_line)
    if pid == 0:
        raise PidFileError(
            f"pid file names pid 0, which is no process (content {quote(text)})",
            path=path,
            hint="point --pid-file at the file where the daemon writes its pid",
        )
    return pid


def check_pid(pid: int, path: str, text: str, *, own_pid: int | None = None) -> None:
    """Check that ``pid`` names a running process other than init and ourselves.

    ``own_pid`` defaults to the calling process.  ``text`` is the file's content,
    quoted in the error.

    Raises:
        PidFileError: the pid is 1, our own, or no running process.
    """
    own_pid = os.getpid() if own_pid is None else own_pid
    if pid == 1:
        raise PidFileError(
            f"pid file names pid 1, the init process (content {quote(text)})",
            path=path,
            hint="a daemon never runs as pid 1; is this the right pid file?",
        )
    if pid == own_pid:
        raise PidFileError(
            f"pid file names pid {pid}, which is this process itself "
            f"(content {quote(text)})",
            path=path,
            hint="the pid file must name the daemon, not its proxy",
        )
    if not is_running(pid):
        raise PidFileError(
            f"pid file names pid {pid}, which is not running (content {quote(text)})",
            path=path,
            hint="the daemon has exited or the file is stale; check its log",
        )


def read_live_pid(path: str, *, own_pid: int | None = None) -> int:
    """Return the pid in the pid file at ``path`` once it passes every check.

    Raises:
        PidFileError: the file is missing, unreadable, empty or not a pid, or
            the pid is 1, our own, or no running process.
    """
    text = read_pid_text(path)
    if text is None:
        raise PidFileError(
            "pid file does not exist",
            path=path,
            hint="the daemon should write it once it runs",
        )
    pid = parse_pid(text, path)
    check_pid(pid, path, text, own_pid=own_pid)
    return pid


@dataclass(frozen=True, slots=True)
class PidFileSnapshot:
    """A pid file's inode, modification time and text at one moment.

    Two snapshots differ once the file has been rewritten, even within one
    tick of the file system's coarse clock, since a new pid changes the text.
    """

    inode: int
    mtime_ns: int
    text: str


def snapshot_pid_file(path: str) -> PidFileSnapshot | None:
    """The pid file as it is now, or None if it does not exist.

    Raises:
        PidFileError: the file or its directory cannot be read.
    """
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    except OSError as error:
        raise PidFileError(
            f"cannot inspect the pid file: {error.strerror}",
            path=path,
            hint="check the permissions of its directory",
        ) from error
    text = read_pid_text(path)
    if text is None:
        return None
    return PidFileSnapshot(stat.st_ino, stat.st_mtime_ns, text)


def is_running(pid: int) -> bool:
    """True when a process (possibly a zombie) has the given pid.

    This is a one-time check; watching a process over time goes through a
    pidfd, which cannot be fooled by a recycled pid.
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        # kill(2) answers EPERM only for a process that exists.
        return True
    return True


def quote(text: str) -> str:
    """``text`` in quotes for an error message, shortened when long."""
    if len(text) > _QUOTE_CHARS:
        return repr(text[:_QUOTE_CHARS]) + "..."
    return repr(text)
