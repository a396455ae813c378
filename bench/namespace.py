"""Running one process manager as PID 1 of a fresh PID namespace, and
reading its processes from the host's /proc.

Every namespace made here is tracked, and `close_all` SIGKILLs each one's
init by its host pid: the kernel then kills everything left inside
(pid_namespaces(7)), so nothing outlives the harness, on failure too.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

_open: list[Namespace] = []


@dataclass(frozen=True, slots=True)
class Proc:
    """One process of a namespace, as the host sees it."""

    host_pid: int
    ns_pid: int
    comm: str
    state: str


class Namespace:
    """One manager running as PID 1 of its own PID (and mount) namespace."""

    def __init__(
        self,
        argv: list[str],
        env: dict[str, str],
        stdout: Path,
        stderr: Path | None = None,
    ) -> None:
        out = open(stdout, "ab")
        err = open(stderr, "ab") if stderr else subprocess.STDOUT
        # --kill-child: if unshare itself dies, the kernel SIGKILLs our init.
        self.unshare = subprocess.Popen(
            ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child", *argv],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            env=env,
            start_new_session=True,
        )
        out.close()
        if stderr:
            err.close()  # type: ignore[union-attr]
        _open.append(self)
        self.init_pid = self._find_init()
        self.pid_ns = os.readlink(f"/proc/{self.init_pid}/ns/pid")

    def _find_init(self) -> int:
        children = Path(f"/proc/{self.unshare.pid}/task/{self.unshare.pid}/children")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            text = children.read_text().split()
            if text:
                return int(text[0])
            time.sleep(0.0002)
        raise RuntimeError(f"unshare {self.unshare.pid} started no init")

    def processes(self) -> list[Proc]:
        """Every live process of this namespace (zombies included)."""
        found = []
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                if os.readlink(f"/proc/{name}/ns/pid") != self.pid_ns:
                    continue
                status = Path(f"/proc/{name}/status").read_text()
            except (FileNotFoundError, ProcessLookupError, PermissionError):
                continue
            fields = dict(
                line.split(":\t", 1) for line in status.splitlines() if ":\t" in line
            )
            found.append(
                Proc(
                    host_pid=int(name),
                    ns_pid=int(fields["NSpid"].split()[-1]),
                    comm=fields["Name"].strip(),
                    state=fields["State"].split()[0],
                )
            )
        return found

    def own_processes(self, service_comm: str = "probe") -> list[Proc]:
        """The manager's own processes: everything that is not a service."""
        return [
            p for p in self.processes() if p.comm != service_comm and p.state != "Z"
        ]

    def terminate_and_time(self, timeout_s: float) -> float | None:
        """SIGTERM the init; seconds until it is gone, None past timeout_s."""
        pidfd = os.pidfd_open(self.init_pid)
        try:
            start = time.monotonic_ns()
            os.kill(self.init_pid, signal.SIGTERM)
            ready, _, _ = select.select([pidfd], [], [], timeout_s)
            end = time.monotonic_ns()
        finally:
            os.close(pidfd)
        return (end - start) / 1e9 if ready else None

    def wait_init_exit(self, timeout_s: float) -> bool:
        pidfd = os.pidfd_open(self.init_pid)
        try:
            ready, _, _ = select.select([pidfd], [], [], timeout_s)
        finally:
            os.close(pidfd)
        return bool(ready)

    def close(self) -> None:
        """SIGKILL the init (which ends the namespace) and reap unshare."""
        if self.unshare.poll() is None:
            try:
                os.kill(self.init_pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                self.unshare.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.unshare.kill()
                self.unshare.wait()
        if self in _open:
            _open.remove(self)

    def __enter__(self) -> Namespace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def close_all() -> None:
    """Close every namespace still open (the harness's last cleanup)."""
    for ns in list(_open):
        ns.close()


def cpu_ns(pids: list[int]) -> int:
    """Time on CPU of these processes, in ns (/proc/PID/schedstat, field 1)."""
    total = 0
    for pid in pids:
        try:
            total += int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            pass
    return total


def voluntary_switches(pids: list[int]) -> int:
    """Voluntary context switches (each one a sleep and a wake-up)."""
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("voluntary_ctxt_switches:"):
                    total += int(line.split()[1])
        except (FileNotFoundError, ProcessLookupError):
            pass
    return total


def memory_kib(pids: list[int]) -> tuple[int, int]:
    """(RSS, PSS) of these processes, in KiB, from /proc/PID/smaps_rollup."""
    rss = pss = 0
    for pid in pids:
        try:
            text = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except (FileNotFoundError, ProcessLookupError):
            continue
        for line in text.splitlines():
            if line.startswith("Rss:"):
                rss += int(line.split()[1])
            elif line.startswith("Pss:"):
                pss += int(line.split()[1])
    return rss, pss
