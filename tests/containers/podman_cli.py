"""Thin helpers around the podman command line for the container smoke tests.

Every container and image made here is named with the ``wingmate-test-`` prefix
and removed by name; nothing else on the machine is touched.  ``podman run`` is
always detached (``-d``): a client killed by a time-out would leave its
container running, so deadlines are enforced by polling instead.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CONTAINERS_CONF = HERE / "containers.conf"


def environment() -> dict[str, str]:
    """The caller's environment with the project-local containers.conf."""
    return {**os.environ, "CONTAINERS_CONF": str(CONTAINERS_CONF)}


def podman(*args: str, check: bool = True, timeout_s: float = 120) -> str:
    """Run one podman command that ends by itself; return its stdout.

    Only for commands that do not start a container in the foreground:
    those run detached through ``start``.
    """
    result = subprocess.run(
        ["podman", *args],
        env=environment(),
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"podman {' '.join(args)} exited with {result.returncode}:\n{result.stderr}"
        )
    return result.stdout


def missing_prerequisite() -> str | None:
    """Why the container tests cannot run here, or None when they can."""
    if os.geteuid() != 0:
        return "container smoke tests need root (podman with runc, debootstrap)"
    for tool in ("podman", "runc", "debootstrap", "apt-get"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed; run tests/containers/setup.sh as root"
    return None


@dataclass
class Finished:
    exit_code: int
    stdout: str
    stderr: str


@dataclass
class Container:
    """One detached container, removed with ``remove``."""

    name: str

    def logs(self) -> tuple[str, str]:
        """Everything it wrote so far, as (stdout, stderr)."""
        result = subprocess.run(
            ["podman", "logs", self.name],
            env=environment(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        return result.stdout, result.stderr

    def output(self) -> str:
        stdout, stderr = self.logs()
        return stdout + stderr

    def exec(self, *command: str) -> str:
        return podman("exec", self.name, *command)

    def state(self) -> tuple[bool, int]:
        """(is_running, exit_code)."""
        text = podman(
            "inspect", "--format", "{{.State.Running}} {{.State.ExitCode}}", self.name
        )
        running, code = text.split()
        return running == "true", int(code)

    def wait_exit(self, deadline_s: float) -> int:
        """Its exit code once it has stopped; fails after ``deadline_s``."""
        wait_until(lambda: not self.state()[0], deadline_s, f"{self.name} to exit")
        return self.state()[1]

    def wait_for_output(self, pattern: str, deadline_s: float = 15) -> re.Match[str]:
        """The first match of ``pattern`` in its output, polled until the deadline."""
        regex = re.compile(pattern, re.MULTILINE)
        found: list[re.Match[str]] = []

        def has_match() -> bool:
            match = regex.search(self.output())
            if match:
                found.append(match)
            return match is not None

        wait_until(has_match, deadline_s, f"{pattern!r} in the output of {self.name}")
        return found[0]

    def remove(self) -> None:
        podman("rm", "--force", "--time", "0", self.name, check=False)


def start(
    name: str, image: str, *command: str, options: Sequence[str] = ()
) -> Container:
    """``podman run -d`` under a fresh name; an old container of that name goes."""
    podman("rm", "--force", "--time", "0", name, check=False)
    podman("run", "-d", "--name", name, *options, image, *command)
    return Container(name)


def run_to_end(
    name: str,
    image: str,
    *command: str,
    options: Sequence[str] = (),
    deadline_s: float = 30,
) -> Finished:
    """Run a short-lived container to its end and return its result."""
    container = start(name, image, *command, options=options)
    try:
        code = container.wait_exit(deadline_s)
        stdout, stderr = container.logs()
        return Finished(code, stdout, stderr)
    finally:
        container.remove()


def wait_until(condition: Callable[[], bool], deadline_s: float, what: str) -> None:
    end = time.monotonic() + deadline_s
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"waited {deadline_s}s for {what}")
        time.sleep(0.2)


def process_table(container: Container) -> list[tuple[int, str, str, int]]:
    """(pid, name, state, ppid) of every process in the container, from /proc.

    The images have no procps, so this reads /proc/PID/stat with the shell.
    """
    text = container.exec(
        "sh", "-c", 'for f in /proc/[0-9]*/stat; do cat "$f" 2>/dev/null; echo; done'
    )
    table = []
    for line in text.splitlines():
        match = re.match(r"(\d+) \((.*)\) (\S) (\d+)", line)
        if match:
            pid, name, state, ppid = match.groups()
            table.append((int(pid), name, state, int(ppid)))
    return table
