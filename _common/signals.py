"""Turning signals into events the main loop reads from a file descriptor.

Handlers do nothing but let the interpreter write the signal number to a
wakeup pipe (``signal.set_wakeup_fd``); the loop reads the numbers in order.
No signal is ever blocked, so children inherit a clean signal mask, and every
handler we install is reset to its default by exec (execve(2)).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterable
from types import FrameType


def _ignore(signum: int, frame: FrameType | None) -> None:
    """Python-level handler; the C-level handler already wrote the wakeup byte."""


class SignalPipe:
    """Delivers the numbers of caught signals through ``fileno()``."""

    def __init__(self, signals: Iterable[signal.Signals]) -> None:
        self._read_fd, self._write_fd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._previous_fd = signal.set_wakeup_fd(
            self._write_fd, warn_on_full_buffer=False
        )
        self._previous = {sig: signal.signal(sig, _ignore) for sig in signals}

    def fileno(self) -> int:
        return self._read_fd

    def drain(self) -> list[int]:
        """The signal numbers received since the last call, in order."""
        received: list[int] = []
        while True:
            try:
                data = os.read(self._read_fd, 512)
            except BlockingIOError:
                return received
            if not data:
                return received
            received.extend(data)

    def close(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        signal.set_wakeup_fd(self._previous_fd)
        os.close(self._read_fd)
        os.close(self._write_fd)
