"""Run wingmate.py as PID 1 of a fresh PID namespace and watch it from outside.

``unshare --pid --fork --mount-proc --kill-child`` makes the namespace; the
wingmate process is unshare's only child, and when wingmate (the namespace's
init) exits, the kernel kills everything left inside.  Output lines are
collected by reader threads so tests can wait for a line with a deadline.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
WINGMATE = str(REPO / "wingmate.py")


def skip_unless_namespaces() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to create PID namespaces with unshare")
    if shutil.which("unshare") is None:
        pytest.skip("needs unshare (Debian package util-linux)")


class Output:
    """Lines read from one stream, with waits on a condition."""

    def __init__(self, stream: object) -> None:
        self.lines: list[bytes] = []
        self.condition = threading.Condition()
        self.thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self.thread.start()

    def _read(self, stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            with self.condition:
                self.lines.append(line)
                self.condition.notify_all()

    def text(self) -> str:
        with self.condition:
            return b"".join(self.lines).decode("utf-8", "replace")

    def wait_for(
        self, pattern: str, timeout_s: float = 10.0, count: int = 1
    ) -> list[re.Match[str]]:
        """The first ``count`` matches of ``pattern``, waiting up to the deadline."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout_s
        with self.condition:
            while True:
                text = b"".join(self.lines).decode("utf-8", "replace")
                matches = list(regex.finditer(text))
                if len(matches) >= count:
                    return matches[:count]
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"no {count} match(es) of {pattern!r} within {timeout_s}s; "
                        f"output so far:\n{text[-4000:]}"
                    )
                self.condition.wait(remaining)


class Namespace:
    """A wingmate running as PID 1; ``host_pid`` is its pid seen from here."""

    def __init__(self, config_dir: Path, env: dict[str, str], args: list[str]) -> None:
        self.unshare = subprocess.Popen(
            [
                "unshare",
                "--pid",
                "--fork",
                "--mount-proc",
                "--kill-child",
                sys.executable,
                WINGMATE,
                "--config",
                str(config_dir),
                *args,
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        self.stdout = Output(self.unshare.stdout)
        self.stderr = Output(self.unshare.stderr)
        self.host_pid = self._find_init()

    def _find_init(self) -> int:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            children = children_of(self.unshare.pid)
            if children:
                return children[0]
            if self.unshare.poll() is not None:
                break
            time.sleep(0.005)
        raise AssertionError(f"wingmate did not start: {self.stderr.text()}")

    def signal(self, sig: signal.Signals) -> None:
        os.kill(self.host_pid, sig)

    def wait(self, timeout_s: float = 20.0) -> int:
        return self.unshare.wait(timeout=timeout_s)

    def host_pid_of(self, ns_pid: int) -> int:
        """The pid seen from here of the process that is ``ns_pid`` inside."""
        for pid in descendants_of(self.host_pid):
            if namespace_pid(pid) == ns_pid:
                return pid
        raise AssertionError(f"no process with pid {ns_pid} in the namespace")

    def processes(self) -> list[int]:
        """Host pids of everything in the namespace but wingmate itself."""
        return descendants_of(self.host_pid)

    def stop(self) -> None:
        if self.unshare.poll() is None:
            try:
                os.kill(self.host_pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.unshare.wait(timeout=10)


def children_of(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and parent_of(int(entry)) == pid:
            found.append(int(entry))
    return found


def descendants_of(pid: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            parent = parent_of(int(entry))
            if parent is not None:
                parents[int(entry)] = parent
    found, frontier = [], {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier}
        found.extend(frontier)
    return found


def parent_of(pid: int) -> int | None:
    stat = proc_stat(pid)
    return None if stat is None else int(stat[1])


def state_of(pid: int) -> str | None:
    stat = proc_stat(pid)
    return None if stat is None else stat[0]


def proc_stat(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as file:
            data = file.read()
    except OSError:
        return None
    return data[data.rfind(b")") + 2 :].decode().split()


def namespace_pid(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as file:
            for line in file:
                if line.startswith("NSpid:"):
                    return int(line.split()[-1])
    except OSError:
        return None
    return None


def wait_until(
    predicate: object, timeout_s: float = 10.0, what: str = "condition"
) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(0.01)


@contextmanager
def wingmate_in_namespace(
    config_dir: Path, env: dict[str, str] | None = None, args: list[str] | None = None
) -> Iterator[Namespace]:
    """Start wingmate as PID 1 on ``config_dir``; kill the namespace afterwards."""
    skip_unless_namespaces()
    base = {k: v for k, v in os.environ.items() if not k.startswith("WINGMATE_")}
    namespace = Namespace(config_dir, {**base, **(env or {})}, args or [])
    try:
        yield namespace
    finally:
        namespace.stop()
