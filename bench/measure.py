"""The benchmarks themselves: each function runs one workload under one
manager and returns its samples.  Times come from the probe's own
CLOCK_MONOTONIC stamps (see probe.c) against the harness's monotonic clock
read just before the event that starts the measured interval.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from managers import Launch, Manager, ServiceDef, Wingmate
from namespace import Namespace, cpu_ns, memory_kib, voluntary_switches


@dataclass(frozen=True, slots=True)
class Stamp:
    tag: str
    ns_pid: int
    mono_ns: int
    real_ns: int


def read_stamps(path: Path) -> list[Stamp]:
    try:
        text = path.read_text()
    except FileNotFoundError:
        return []
    stamps = []
    for line in text.splitlines():
        tag, pid, mono, real = line.split()
        stamps.append(Stamp(tag, int(pid), int(mono), int(real)))
    return stamps


def wait_for_stamps(
    path: Path, count: int, timeout_s: float, tag: str | None = None
) -> list[Stamp]:
    """Poll until PATH holds COUNT stamps (of TAG); all of them, or raise."""
    deadline = time.monotonic() + timeout_s
    while True:
        stamps = [s for s in read_stamps(path) if tag is None or s.tag == tag]
        if len(stamps) >= count:
            return stamps
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path}: {len(stamps)} of {count} stamps")
        time.sleep(0.0005)


@dataclass
class Bench:
    """One harness run: a scratch directory, the probe, and settings."""

    probe: Path
    root: Path
    is_quick: bool
    counter: int = 0
    notes: list[str] = field(default_factory=list)

    def scratch(self, label: str) -> Path:
        self.counter += 1
        path = self.root / f"{self.counter:03d}-{label.split()[0]}"
        path.mkdir()
        return path

    def script(self, where: Path, name: str, body: str) -> Path:
        path = where / "scripts" / name
        path.parent.mkdir(exist_ok=True)
        path.write_text(f"#!/bin/sh\n{body}\n")
        os.chmod(path, 0o755)
        return path

    def stamp_services(
        self, where: Path, count: int, stamps: Path, ignoring_term: int = 0
    ) -> list[ServiceDef]:
        """COUNT services that stamp and wait; the first IGNORING_TERM of them
        ignore SIGTERM (an ignored disposition survives exec)."""
        services = []
        for i in range(count):
            name = f"s{i:03d}"
            trap = "trap '' TERM\n" if i < ignoring_term else ""
            body = f"{trap}exec {self.probe} stamp {stamps} {name}"
            services.append(ServiceDef(name, self.script(where, name, body)))
        return services

    def start(self, where: Path, launch: Launch) -> Namespace:
        return Namespace(launch.argv, launch.env, where / "manager.log")


def _session(bench: Bench, manager: Manager, label: str, count: int,
             ignoring_term: int = 0, grace_s: float = 2
             ) -> tuple[Namespace, Path, int]:
    where = bench.scratch(f"{label}-{manager.name}")
    stamps = where / "stamps"
    services = bench.stamp_services(where, count, stamps, ignoring_term)
    launch = manager.services(where / "config", services, grace_s)
    start_ns = time.monotonic_ns()
    ns = bench.start(where, launch)
    return ns, stamps, start_ns


def steady_state(bench: Bench, manager: Manager, idle_windows: int,
                 window_s: float, restarts: int) -> dict[str, list[float]]:
    """10 services: memory, then idle CPU and wake-ups, then restart latency."""
    out: dict[str, list[float]] = {}
    ns, stamps, _ = _session(bench, manager, "steady", 10)
    with ns:
        wait_for_stamps(stamps, 10, 20)
        time.sleep(1.0)
        pids = [p.host_pid for p in ns.own_processes()]
        rss, pss = memory_kib(pids)
        out["rss"] = [rss / 1024]
        out["pss"] = [pss / 1024]
        out["procs"] = [len(pids)]

        out["idle_cpu"], out["idle_wakeups"] = [], []
        for _ in range(idle_windows):
            cpu0, sw0 = cpu_ns(pids), voluntary_switches(pids)
            time.sleep(window_s)
            cpu1, sw1 = cpu_ns(pids), voluntary_switches(pids)
            out["idle_cpu"].append((cpu1 - cpu0) / 1e6 / window_s)
            out["idle_wakeups"].append((sw1 - sw0) / window_s)

        if manager.can_restart:
            out["restart"] = [restart_once(ns, stamps, "s000") for _ in range(restarts)]
    return out


def restart_once(ns: Namespace, stamps: Path, tag: str) -> float:
    """SIGKILL the service TAG; ms until its replacement has stamped."""
    before = [s for s in read_stamps(stamps) if s.tag == tag]
    current = before[-1]
    # Up longer than any stable window (wingmate's is set to 1 s).
    up_s = (time.monotonic_ns() - current.mono_ns) / 1e9
    if up_s < 1.2:
        time.sleep(1.2 - up_s)
    host_pid = next(
        p.host_pid for p in ns.processes()
        if p.ns_pid == current.ns_pid and p.comm == "probe"
    )
    start = time.monotonic_ns()
    os.kill(host_pid, signal.SIGKILL)
    after = wait_for_stamps(stamps, len(before) + 1, 10, tag)
    return (after[-1].mono_ns - start) / 1e6


def restart_floor(bench: Bench, trials: int) -> list[float]:
    """The same service script, spawned directly by the harness."""
    where = bench.scratch("floor")
    stamps = where / "stamps"
    script = bench.stamp_services(where, 1, stamps)[0].script
    samples = []
    for i in range(trials):
        start = time.monotonic_ns()
        pid = os.posix_spawn(str(script), [str(script)], os.environ)
        stamp = wait_for_stamps(stamps, i + 1, 5)[-1]
        samples.append((stamp.mono_ns - start) / 1e6)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        time.sleep(0.05)
    return samples


def shutdown(bench: Bench, manager: Manager, ignoring: bool, grace_s: float,
             timeout_s: float) -> float | None:
    """ms from SIGTERM to PID 1 until PID 1 is gone; None if it stays."""
    ns, stamps, _ = _session(bench, manager, "shutdown", 10,
                             ignoring_term=1 if ignoring else 0, grace_s=grace_s)
    with ns:
        wait_for_stamps(stamps, 10, 20)
        time.sleep(0.3)
        took = ns.terminate_and_time(timeout_s)
    return None if took is None else took * 1000


def zombies(bench: Bench, manager: Manager) -> int:
    """A service makes 1000 orphans; zombies in the namespace 3 s later."""
    where = bench.scratch(f"zombies-{manager.name}")
    stamps = where / "stamps"
    body = f"exec {bench.probe} orphans {stamps} z 1000"
    services = [ServiceDef("orphans", bench.script(where, "orphans", body))]
    launch = manager.services(where / "config", services, 2)
    with bench.start(where, launch) as ns:
        wait_for_stamps(stamps, 1, 20)
        time.sleep(3)
        return sum(1 for p in ns.processes() if p.state == "Z")


def fan_out(bench: Bench, manager: Manager, count: int) -> float:
    """ms from starting PID 1 until all COUNT services have stamped."""
    ns, stamps, start_ns = _session(bench, manager, "fanout", count)
    with ns:
        done = wait_for_stamps(stamps, count, 30)
    return (max(s.mono_ns for s in done) - start_ns) / 1e6


def cron_lateness(bench: Bench, managers: list[Manager], schedule: str,
                  period_s: int, runs: int) -> dict[str, list[float]]:
    """Run every manager's job on SCHEDULE at once; ms late per run.

    Lateness is the job's realtime stamp past the last multiple of PERIOD_S,
    which is when the job was due.
    """
    spaces = []
    try:
        for manager in managers:
            where = bench.scratch(f"cron-{manager.name}")
            stamps = where / "stamps"
            job = bench.script(where, "job", f"exec {bench.probe} once {stamps} job")
            launch = manager.cron(where / "config", schedule, job)
            spaces.append((manager, stamps, bench.start(where, launch)))
        # The first due time may come right after start-up; skip it.
        first_due = (time.time() // period_s + 1) * period_s
        end = first_due + period_s * runs + min(period_s * 0.9, 5)
        time.sleep(max(0.0, end - time.time()))
        out = {}
        period_ns = period_s * 10**9
        for manager, stamps, _ in spaces:
            late = []
            for s in read_stamps(stamps):
                if s.real_ns < first_due * 1e9 - period_ns / 2:
                    continue
                offset = s.real_ns % period_ns
                # A job run just before its second would count as early.
                late.append((offset - period_ns if offset > period_ns / 2
                             else offset) / 1e6)
            out[manager.name] = late
        return out
    finally:
        for _, _, ns in spaces:
            ns.close()


QUIET = [(os.POSIX_SPAWN_OPEN, 1, "/dev/null", os.O_WRONLY, 0)]


def startup(argv: list[str], trials: int) -> list[float]:
    """ms from spawn to exit of ARGV (posix_spawn, waitpid)."""
    samples = []
    for _ in range(trials):
        start = time.monotonic_ns()
        pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=QUIET)
        os.waitpid(pid, 0)
        samples.append((time.monotonic_ns() - start) / 1e6)
    return samples


LINE_BYTES = 100
PREFIX = "flood: "


def output_through(bench: Bench, manager: Wingmate, total: int) -> tuple[float, float]:
    """(MB/s, wingmate's CPU ms per MB) for TOTAL bytes of lines relayed."""
    where = bench.scratch(f"output-{manager.name}")
    stamps = where / "stamps"
    flood = bench.script(
        where, "flood",
        f"{bench.probe} once {stamps} start\nexec {bench.probe} flood {total} {LINE_BYTES}",
    )
    idle = bench.script(where, "idle", f"exec {bench.probe} stamp {stamps} idle")
    # The idle service keeps wingmate running after the flood ends, so its
    # CPU time can still be read.
    yaml = (
        "service:\n"
        f"  flood:\n    command: [{flood}]\n    restart: never\n"
        f"  idle:\n    command: [{idle}]\n"
    )
    launch = manager.yaml_services(where / "config", yaml)
    out_file = where / "stdout"
    expected = total + (total // LINE_BYTES) * len(PREFIX)
    ns = Namespace(launch.argv, launch.env, out_file, where / "stderr")
    with ns:
        start = wait_for_stamps(stamps, 1, 20, "start")[0]
        pids = [p.host_pid for p in ns.own_processes()]
        cpu0 = cpu_ns(pids)
        while out_file.stat().st_size < expected:
            time.sleep(0.002)
        end = time.monotonic_ns()
        cpu1 = cpu_ns(pids)
    out_file.unlink()
    seconds = (end - start.mono_ns) / 1e9
    megabytes = total / 1e6
    return megabytes / seconds, (cpu1 - cpu0) / 1e6 / megabytes


def output_direct(bench: Bench, total: int) -> float:
    """MB/s of the same program writing straight to a file."""
    where = bench.scratch("output-direct")
    out_file = where / "stdout"
    start = time.monotonic_ns()
    with open(out_file, "wb") as out:
        subprocess.run([str(bench.probe), "flood", str(total), str(LINE_BYTES)],
                       stdout=out, check=True)
    seconds = (time.monotonic_ns() - start) / 1e9
    out_file.unlink()
    return total / 1e6 / seconds


def new_bench(probe: Path, is_quick: bool) -> Bench:
    return Bench(probe, Path(tempfile.mkdtemp(prefix="wmbench-")), is_quick)
