"""Copying what services and jobs write to wingmate's own stdout and stderr.

Every line gets the service name in front.  Bytes pass through as they are
(not every program writes UTF-8); a line longer than ``MAX_LINE`` is cut into
pieces rather than held back, and a last line without a newline is still
written, with one added, when the pipe closes.
"""

from __future__ import annotations

import os
import select
import time

from _common.logs import iso_time

MAX_LINE = 64 * 1024
READ_SIZE = 256 * 1024


class LineRelay:
    """One pipe from a child, relayed line by line to ``destination``."""

    def __init__(
        self, name: str, stream: str, destination: int, is_json: bool = False
    ) -> None:
        self.name = name
        self.stream = stream
        self.destination = destination
        self.is_json = is_json
        self.prefix = f"{name}: ".encode()
        self.pending = b""

    def feed(self, data: bytes) -> None:
        """Write every complete line of ``pending + data``; keep the rest."""
        data = self.pending + data if self.pending else data
        end = data.rfind(b"\n")
        if end < 0:
            self.pending = data
        else:
            self._emit(data[: end + 1])
            self.pending = data[end + 1 :]
        while len(self.pending) >= MAX_LINE:
            self._emit(self.pending[:MAX_LINE] + b"\n")
            self.pending = self.pending[MAX_LINE:]

    def close(self) -> None:
        """Write a last line that had no newline."""
        if self.pending:
            self._emit(self.pending + b"\n")
            self.pending = b""

    def _emit(self, lines: bytes) -> None:
        if self.is_json:
            write_all(self.destination, self._as_json(lines))
            return
        body = lines[:-1].replace(b"\n", b"\n" + self.prefix)
        write_all(self.destination, self.prefix + body + b"\n")

    def _as_json(self, lines: bytes) -> bytes:
        import json  # only JSON mode pays for the module

        created = time.time()
        records = []
        for line in lines[:-1].split(b"\n"):
            entry = {
                "time": iso_time(created),
                "program": "wingmate",
                "pid": os.getpid(),
                "level": "INFO",
                "service": self.name,
                "stream": self.stream,
                "message": line.decode("utf-8", "backslashreplace"),
            }
            records.append(json.dumps(entry, ensure_ascii=False))
        return ("\n".join(records) + "\n").encode()


def open_output_pipe() -> tuple[int, int]:
    """A (read, write) pipe whose read end is non-blocking.

    The pipe keeps the kernel's default size: pipe buffers count against a
    per-user budget (/proc/sys/fs/pipe-user-pages-soft), and past it new
    pipes get two pages only, so enlarging 400 pipes would shrink the rest.
    """
    read_fd, write_fd = os.pipe2(os.O_CLOEXEC)
    os.set_blocking(read_fd, False)
    return read_fd, write_fd


def read_available(fd: int) -> bytes | None:
    """What the pipe holds now; b"" at end of file, None if nothing is ready."""
    try:
        return os.read(fd, READ_SIZE)
    except BlockingIOError:
        return None


def write_all(fd: int, data: bytes) -> None:
    """Write all of ``data``, waiting when ``fd`` is a full non-blocking pipe."""
    view = memoryview(data)
    while view:
        try:
            written = os.write(fd, view)
        except BlockingIOError:
            select.select([], [fd], [])
            continue
        except BrokenPipeError:
            return  # nobody reads our output any more; drop it, keep running
        view = view[written:]
