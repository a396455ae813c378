"""Reading and checking pid files: every refusal names the file and quotes it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from _common.errors import PidFileError
from _common.pidfile import (
    check_pid,
    parse_pid,
    quote,
    read_live_pid,
    read_pid_text,
)


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "daemon.pid"
    path.write_text(text)
    return str(path)


def dead_pid() -> int:
    """The pid of a child that has exited and been reaped."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_pid_on_the_first_line_is_read(tmp_path: Path) -> None:
    """The pid is the first line, surrounding blanks aside."""
    path = write(tmp_path, f" {os.getppid()} \n")
    assert read_live_pid(path) == os.getppid()


def test_lines_after_the_first_are_ignored() -> None:
    """Multi-line pid files such as PostgreSQL's postmaster.pid are accepted."""
    assert parse_pid("4242\n/var/lib/postgresql/data\n1700000000\n", "pm.pid") == 4242


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("garbage\n", "pid file does not hold a pid (content 'garbage\\n')"),
        ("-12\n", "pid file does not hold a pid (content '-12\\n')"),
        ("12abc", "pid file does not hold a pid (content '12abc')"),
        ("0\n", "pid file names pid 0, which is no process (content '0\\n')"),
        ("", "pid file is empty (content '')"),
        ("  \n", "pid file is empty (content '  \\n')"),
        ("\u0661\u0662", "pid file does not hold a pid"),
    ],
)
def test_text_that_is_no_pid_is_refused(text: str, expected: str) -> None:
    """Garbage, signs, zero, blanks and non-ASCII digits are refused."""
    with pytest.raises(PidFileError) as caught:
        parse_pid(text, "/run/app.pid")

    assert str(caught.value).startswith(f"/run/app.pid: {expected}")
    assert caught.value.path == "/run/app.pid"
    assert caught.value.hint


def test_pid_1_is_refused(tmp_path: Path) -> None:
    """Pid 1 is the init process, never the daemon."""
    path = write(tmp_path, "1\n")

    with pytest.raises(PidFileError, match="names pid 1, the init process") as caught:
        read_live_pid(path)

    assert str(caught.value).startswith(f"{path}: ")
    assert "(content '1\\n')" in str(caught.value)


def test_own_pid_is_refused(tmp_path: Path) -> None:
    """The proxy's own pid cannot be the daemon's."""
    path = write(tmp_path, f"{os.getpid()}\n")

    with pytest.raises(PidFileError) as caught:
        read_live_pid(path)

    message = str(caught.value)
    assert message.startswith(f"{path}: pid file names pid {os.getpid()}, ")
    assert "which is this process itself" in message
    assert f"(content '{os.getpid()}\\n')" in message


def test_own_pid_can_be_given() -> None:
    """``own_pid`` stands for the caller's pid, for a caller acting for another."""
    with pytest.raises(PidFileError, match="this process itself"):
        check_pid(os.getppid(), "x.pid", "", own_pid=os.getppid())


def test_dead_pid_is_refused(tmp_path: Path) -> None:
    """A pid that names no running process is refused, quoting the file."""
    pid = dead_pid()
    path = write(tmp_path, f"{pid}\n")

    with pytest.raises(PidFileError) as caught:
        read_live_pid(path)

    message = str(caught.value)
    assert message.startswith(f"{path}: pid file names pid {pid}, which is not running")
    assert f"(content '{pid}\\n')" in message
    assert "stale" in message


def test_missing_file_is_none_or_an_error(tmp_path: Path) -> None:
    """read_pid_text reports a missing file as None; read_live_pid refuses it."""
    path = str(tmp_path / "absent.pid")

    assert read_pid_text(path) is None
    with pytest.raises(PidFileError, match="pid file does not exist") as caught:
        read_live_pid(path)
    assert caught.value.path == path


def test_unreadable_path_is_an_error(tmp_path: Path) -> None:
    """A directory where the pid file should be is reported, not a traceback."""
    with pytest.raises(PidFileError, match="cannot read the pid file") as caught:
        read_pid_text(str(tmp_path))
    assert caught.value.path == str(tmp_path)


def test_long_content_is_shortened_in_messages() -> None:
    """Quoted content stops after 40 characters."""
    assert quote("x" * 100) == repr("x" * 40) + "..."
    assert quote("12\n") == "'12\\n'"


def test_undecodable_bytes_do_not_crash(tmp_path: Path) -> None:
    """Bytes that are not UTF-8 are quoted with replacement characters."""
    path = tmp_path / "daemon.pid"
    path.write_bytes(b"\xff\xfe\n")

    with pytest.raises(PidFileError, match="does not hold a pid"):
        read_live_pid(str(path))
