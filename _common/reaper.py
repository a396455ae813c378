"""Collecting exited children, and the PID 1 duties that go with it.

All reaping goes through ``reap_children``: one ``waitpid(-1)`` loop, so that
no exit status is lost to a second waiter and orphans are collected too.
"""

from __future__ import annotations

import ctypes
import errno
import logging
import os
import signal
import sys

log = logging.getLogger(__name__)

PR_SET_CHILD_SUBREAPER = 36  # <linux/prctl.h>


def reap_children() -> list[tuple[int, int]]:
    """Every (pid, wait status) that can be collected now, without blocking."""
    reaped: list[tuple[int, int]] = []
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return reaped
        if pid == 0:
            return reaped
        reaped.append((pid, status))


def set_child_subreaper() -> None:
    """Make orphaned descendants re-parent to this process instead of PID 1.

    Needed whenever we are not PID 1 ourselves: a single-file program runs
    under its own bootloader, which only waits for its direct child
    (prctl(2), PR_SET_CHILD_SUBREAPER, Linux 3.4+).  Callers log what the
    failure means for them.

    Raises:
        OSError: the kernel refused, or this C library has no prctl.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        result = libc.prctl(PR_SET_CHILD_SUBREAPER, ctypes.c_ulong(1), 0, 0, 0)
    except AttributeError:
        raise OSError(errno.ENOSYS, "prctl is not available") from None
    if result != 0:
        number = ctypes.get_errno()
        raise OSError(number, os.strerror(number))


def exit_code_of(status: int) -> int:
    """The shell's view of a wait status: the code, or 128+N for signal N."""
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.waitstatus_to_exitcode(status)


def describe_status(status: int) -> str:
    """``exited with code 3`` or ``killed by SIGKILL`` for log lines."""
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = f"signal {number}"
        core = " (core dumped)" if os.WCOREDUMP(status) else ""
        return f"killed by {name}{core}"
    return f"exited with code {os.waitstatus_to_exitcode(status)}"


def is_container_init() -> bool:
    """True when this process plays the container's init.

    Either it is PID 1, or its parent is PID 1 and is the single-file
    bootloader that runs this very program (then the bootloader forwards
    signals to us and exits with our status).
    """
    if os.getpid() == 1:
        return True
    if os.getppid() != 1 or not getattr(sys, "frozen", False):
        return False
    try:
        return os.readlink("/proc/1/exe") == os.readlink("/proc/self/exe")
    except OSError as exc:
        if exc.errno not in (errno.EACCES, errno.ENOENT):
            raise
        return False
