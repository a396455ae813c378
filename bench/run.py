"""Benchmarks wingmate against its peers and prints one table.

    python3 bench/run.py [--quick] [--json FILE] [--only METRIC,...]

Needs root (PID namespaces) and what bench/setup.sh installs.  Every manager
runs as PID 1 of a fresh PID namespace on the same workload; each cell is
the median / p90 of the trials, and the last columns compare wingmate's
binary with the best peer.  docs/benchmarks.md explains each metric.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import measure
from managers import REPO, Manager, Wingmate, all_managers
from namespace import close_all

BENCH = Path(__file__).resolve().parent
BUILD = Path("/tmp/wmbench-build")


@dataclass(frozen=True, slots=True)
class Metric:
    key: str
    label: str
    unit: str
    is_higher_better: bool = False


METRICS = [
    Metric("restart", "restart latency", "ms"),
    Metric("idle_cpu", "idle CPU, 10 services", "ms/s"),
    Metric("idle_wakeups", "idle wake-ups, 10 services", "/s"),
    Metric("rss", "memory RSS, 10 services", "MiB"),
    Metric("pss", "memory PSS, 10 services", "MiB"),
    Metric("procs", "manager's own processes", ""),
    Metric("shutdown", "shutdown, 10 prompt services", "ms"),
    Metric("shutdown_ignoring", "shutdown, 1 ignores TERM (grace 2 s)", "ms"),
    Metric("zombies", "zombies 3 s after 1000 orphans", ""),
    Metric("fan_out", "fan-out, 200 services", "ms"),
    Metric("cron_second", "cron lateness, seconds schedule", "ms"),
    Metric("cron_minute", "cron lateness, minute schedule", "ms"),
    Metric("startup_wmexec", "start-up: wmexec -- /bin/true", "ms"),
    Metric("startup_wmpidproxy", "start-up: wmpidproxy --version", "ms"),
    Metric("size_wmexec", "size: wmexec", "MiB"),
    Metric("size_wmpidproxy", "size: wmpidproxy", "MiB"),
    Metric("size_manager", "size: the manager's programs", "MiB"),
    Metric("output", "output, 200 MB of 100-byte lines", "MB/s", True),
    Metric("output_cpu", "output: manager CPU per MB", "ms/MB"),
]
FLOOR = "floor / direct"


@dataclass(frozen=True, slots=True)
class Plan:
    """Trial counts: the full run, or --quick."""

    restarts: int
    idle_windows: int
    idle_window_s: float
    shutdowns: int
    shutdowns_ignoring: int
    zombie_trials: int
    fan_outs: int
    cron_seconds: int
    cron_minutes: int
    startups: int
    outputs: int


FULL = Plan(10, 4, 5.0, 5, 2, 2, 5, 20, 3, 20, 3)
QUICK = Plan(3, 1, 3.0, 1, 1, 1, 1, 5, 0, 5, 1)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = fraction * (len(ordered) - 1)
    low = int(index)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (index - low)


def summarize(values: list[float | None]) -> str:
    if not values:
        return ""
    if any(v is None for v in values):
        done = [v for v in values if v is not None]
        return f"{len(values) - len(done)}/{len(values)} never"
    numbers = [v for v in values if v is not None]
    med, p90 = statistics.median(numbers), percentile(numbers, 0.9)
    if len(numbers) == 1 or med == p90:
        return _fmt(med)
    return f"{_fmt(med)} / {_fmt(p90)}"


def _fmt(value: float) -> str:
    if value == int(value) and abs(value) < 10000:
        return f"{value:.0f}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


Results = dict[str, dict[str, list[float | None]]]


def record(results: Results, key: str, who: str, values: list[float | None]) -> None:
    results.setdefault(key, {}).setdefault(who, []).extend(values)


def build_wingmate() -> Path:
    """Freeze the three programs from the work tree into BUILD/dist."""
    pyinstaller = REPO / ".venv-build" / "bin" / "pyinstaller"
    subprocess.run(
        [str(pyinstaller), "--noconfirm", "--clean", "--log-level", "WARN",
         "--distpath", str(BUILD / "dist"), "--workpath", str(BUILD / "work"),
         str(REPO / "build.spec")],
        check=True, cwd=REPO, stdout=subprocess.DEVNULL,
    )
    return BUILD / "dist"


def build_probe() -> Path:
    BUILD.mkdir(parents=True, exist_ok=True)
    probe = BUILD / "probe"
    subprocess.run(["gcc", "-O2", "-Wall", "-o", str(probe), str(BENCH / "probe.c")],
                   check=True)
    return probe


def run_services(bench: measure.Bench, plan: Plan, managers: list[Manager],
                 results: Results, only: set[str]) -> None:
    for manager in managers:
        name = manager.name
        if _wanted(only, "steady"):
            _progress(f"{name}: memory, idle, restart")
            steady = measure.steady_state(bench, manager, plan.idle_windows,
                                          plan.idle_window_s, plan.restarts)
            for key, values in steady.items():
                record(results, key, name, values)  # type: ignore[arg-type]
        if _wanted(only, "shutdown"):
            # Capped at 10 s: past that, Docker would SIGKILL the container.
            _progress(f"{name}: shutdown")
            record(results, "shutdown", name, [
                measure.shutdown(bench, manager, False, 2, 10)
                for _ in range(plan.shutdowns)])
            record(results, "shutdown_ignoring", name, [
                measure.shutdown(bench, manager, True, 2, 10)
                for _ in range(plan.shutdowns_ignoring)])
        if _wanted(only, "zombies"):
            _progress(f"{name}: zombies")
            record(results, "zombies", name, [
                measure.zombies(bench, manager) for _ in range(plan.zombie_trials)])
        if _wanted(only, "fan_out"):
            _progress(f"{name}: fan-out")
            record(results, "fan_out", name, [
                measure.fan_out(bench, manager, 200) for _ in range(plan.fan_outs)])
    if _wanted(only, "steady"):
        record(results, "restart", FLOOR, measure.restart_floor(bench, plan.restarts * 2))


def run_cron(bench: measure.Bench, plan: Plan, managers: list[Manager],
             results: Results) -> None:
    wingmates = [m for m in managers if isinstance(m, Wingmate)]
    for manager in wingmates:
        _progress(f"{manager.name}: cron, seconds schedule")
        late = measure.cron_lateness(bench, [manager], "* * * * * *", 1,
                                     plan.cron_seconds)
        record(results, "cron_second", manager.name, late[manager.name])
    _progress("cron, minute schedule: every cron at once "
              f"({plan.cron_minutes} minute boundaries)")
    late = measure.cron_lateness(bench, managers, "* * * * *", 60, plan.cron_minutes)
    for name, values in late.items():
        record(results, "cron_minute", name, values)


def run_startup(plan: Plan, dist: Path | None, results: Results) -> None:
    _progress("start-up and sizes")
    python = str(REPO / ".venv" / "bin" / "python")
    record(results, "startup_wmexec", FLOOR, measure.startup(["/bin/true"], plan.startups))
    record(results, "startup_wmpidproxy", FLOOR,
           measure.startup(["/bin/true"], plan.startups))
    record(results, "startup_wmexec", "wingmate (src)", measure.startup(
        [python, str(REPO / "wmexec.py"), "--", "/bin/true"], plan.startups))
    record(results, "startup_wmpidproxy", "wingmate (src)", measure.startup(
        [python, str(REPO / "wmpidproxy.py"), "--version"], plan.startups))
    if dist is not None:
        record(results, "startup_wmexec", "wingmate (bin)", measure.startup(
            [str(dist / "wmexec"), "--", "/bin/true"], plan.startups))
        record(results, "startup_wmpidproxy", "wingmate (bin)", measure.startup(
            [str(dist / "wmpidproxy"), "--version"], plan.startups))
        for program in ("wmexec", "wmpidproxy"):
            record(results, f"size_{program}", "wingmate (bin)",
                   [(dist / program).stat().st_size / 2**20])
        record(results, "size_manager", "wingmate (bin)",
               [(dist / "wingmate").stat().st_size / 2**20])
    record(results, "size_wmexec", FLOOR, [_size("true")])
    peers = {
        "supervisord": [], "s6": ["s6-svscan", "s6-supervise"],
        "runit": ["runsvdir", "runsv"], "tini": ["tini"], "dumb-init": ["dumb-init"],
        "crond (busybox)": [str(REPO / ".cache" / "bench" / "busybox")], "cron (Debian)": ["cron"],
    }
    for name, programs in peers.items():
        if programs:
            record(results, "size_manager", name, [sum(_size(p) for p in programs)])


def _size(program: str) -> float:
    path = shutil.which(program, path="/usr/bin:/bin:/usr/sbin")
    return Path(path).stat().st_size / 2**20 if path else 0.0


def run_output(bench: measure.Bench, plan: Plan, managers: list[Manager],
               results: Results) -> None:
    total = 200 * 10**6
    for manager in managers:
        if isinstance(manager, Wingmate):
            _progress(f"{manager.name}: output")
            for _ in range(plan.outputs):
                rate, cpu = measure.output_through(bench, manager, total)
                record(results, "output", manager.name, [rate])
                record(results, "output_cpu", manager.name, [cpu])
    _progress("output straight to a file")
    record(results, "output", FLOOR,
           [measure.output_direct(bench, total) for _ in range(plan.outputs)])


def table(results: Results, managers: list[Manager]) -> str:
    """One Markdown table: a row per metric, a column per manager."""
    names = [m.name for m in managers]
    peers = [m.name for m in managers if m.is_peer]
    header = ["metric", *names, FLOOR, "best peer", "bin ÷ best"]
    rows = [header, ["---"] * len(header)]
    for metric in METRICS:
        cells = results.get(metric.key)
        if not cells:
            continue
        label = f"{metric.label} ({metric.unit})" if metric.unit else metric.label
        row = [label] + [summarize(cells.get(n, [])) for n in [*names, FLOOR]]
        row += _best_peer(metric, cells, peers, names[0])
        rows.append(row)
    return "\n".join("| " + " | ".join(r) + " |" for r in rows)


def _best_peer(metric: Metric, cells: dict[str, list[float | None]],
               peers: list[str], wingmate: str) -> list[str]:
    medians = {}
    for name in peers:
        values = cells.get(name, [])
        if values and all(v is not None for v in values):
            medians[name] = statistics.median(values)  # type: ignore[type-var]
    if not medians:
        return ["", ""]
    pick = max if metric.is_higher_better else min
    best = pick(medians, key=lambda n: medians[n])
    ours = cells.get(wingmate, [])
    ratio = ""
    if ours and all(v is not None for v in ours) and medians[best]:
        ratio = f"{statistics.median(ours) / medians[best]:.2f}"  # type: ignore[type-var]
    return [f"{best} {_fmt(medians[best])}", ratio]


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "?")
    return (f"{time.strftime('%Y-%m-%d %H:%M %Z')}; {os.cpu_count()} CPUs ({cpu}); "
            f"Linux {platform.release()}; Python {platform.python_version()}")


def _wanted(only: set[str], name: str) -> bool:
    return not only or name in only


def _progress(text: str) -> None:
    print(f"bench: {text}", file=sys.stderr, flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer trials (< 3 min)")
    parser.add_argument("--json", type=Path, help="also write the raw samples here")
    parser.add_argument("--only", default="",
                        help="comma-separated: steady,shutdown,zombies,fan_out,"
                             "cron,startup,output")
    parser.add_argument("--no-build", action="store_true",
                        help="skip the wingmate binary (source only)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench: error: PID namespaces need root; run as root "
              "(after bench/setup.sh)", file=sys.stderr)
        return 2

    # SIGTERM or SIGHUP ends the run like Ctrl-C: through the finally below.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.default_int_handler)

    plan = QUICK if args.quick else FULL
    only = {w for w in args.only.split(",") if w}
    started = time.monotonic()
    probe = build_probe()
    dist = None
    if not args.no_build:
        _progress("freezing wingmate with PyInstaller")
        dist = build_wingmate()
    bench = measure.new_bench(probe, args.quick)
    tmpdir = bench.root / "tmp"
    tmpdir.mkdir()
    managers = all_managers(dist / "wingmate" if dist else None, tmpdir)
    results: Results = {}
    try:
        services = [m for m in managers if m.can_run_services]
        crons = [m for m in managers if m.can_run_jobs]
        run_services(bench, plan, services, results, only)
        if _wanted(only, "startup"):
            run_startup(plan, dist, results)
        if _wanted(only, "output"):
            run_output(bench, plan, managers, results)
        if _wanted(only, "cron"):
            run_cron(bench, plan, crons, results)
    finally:
        close_all()
        shutil.rmtree(bench.root, ignore_errors=True)

    print(f"\n{machine()}; {'quick' if args.quick else 'full'} run, "
          f"{time.monotonic() - started:.0f} s\n")
    print(table(results, managers))
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "results": results},
                                        indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
