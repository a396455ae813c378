"""wingmate as PID 1 of a PID namespace: services, restarts, reaping, shutdown."""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

from nsrun import state_of, wait_until, wingmate_in_namespace

FAST = {"WINGMATE_STABLE_WINDOW": "0.2"}


def write_service(config: Path, name: str, body: str) -> None:
    service_dir = config / "service"
    service_dir.mkdir(parents=True, exist_ok=True)
    path = service_dir / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)


def started_pids(output: str, name: str) -> list[int]:
    return [
        int(pid)
        for pid in re.findall(rf"INFO {re.escape(name)}: started, pid (\d+)", output)
    ]


def test_killed_service_is_restarted_at_once(tmp_path: Path) -> None:
    """A service killed after its stable window is running again within 100 ms."""
    write_service(tmp_path, "sleeper", "exec sleep 1000\n")
    with wingmate_in_namespace(tmp_path, FAST) as ns:
        first = int(ns.stderr.wait_for(r"sleeper: started, pid (\d+)")[0].group(1))
        time.sleep(0.3)  # outlive the 0.2 s stable window, so no backoff applies
        killed_at = time.monotonic()
        os.kill(ns.host_pid_of(first), signal.SIGKILL)
        ns.stderr.wait_for(r"sleeper: started, pid (\d+)", timeout_s=5, count=2)
        elapsed = time.monotonic() - killed_at
        assert "killed by SIGKILL; restarting now" in ns.stderr.text()
        assert elapsed < 1.0, f"restart took {elapsed:.3f}s"


def test_service_that_keeps_failing_is_restarted_with_backoff(tmp_path: Path) -> None:
    """A crash loop waits longer before each restart and says so."""
    write_service(tmp_path, "crasher", "exit 3\n")
    with wingmate_in_namespace(tmp_path, {"WINGMATE_STABLE_WINDOW": "5"}) as ns:
        lines = ns.stderr.wait_for(r"restarting in (\d+\.\d+)s", timeout_s=5, count=3)
        delays = [float(match.group(1)) for match in lines]
        assert delays == sorted(delays) and delays[0] < delays[-1]
        assert "crasher: exited with code 3" in ns.stderr.text()


def test_orphans_of_a_service_are_reaped(tmp_path: Path) -> None:
    """200 orphans re-parented to wingmate leave no zombie behind."""
    write_service(
        tmp_path,
        "spawner",
        "i=0\nwhile [ $i -lt 200 ]; do sh -c 'sleep 0.2 &' ; i=$((i+1)); done\n"
        "echo spawned\nexec sleep 1000\n",
    )
    with wingmate_in_namespace(tmp_path) as ns:
        ns.stdout.wait_for(r"spawner: spawned", timeout_s=30)

        def no_zombies_or_sleepers() -> bool:
            states = [state_of(pid) for pid in ns.processes()]
            return states.count("Z") == 0 and len(states) <= 2

        wait_until(no_zombies_or_sleepers, timeout_s=10, what="orphans to be reaped")


def test_service_ignoring_sigterm_is_killed_after_its_grace(tmp_path: Path) -> None:
    """SIGTERM to wingmate ends a stubborn service with SIGKILL after its grace."""
    write_service(
        tmp_path,
        "stubborn",
        "trap '' TERM\necho ready\nwhile true; do sleep 0.05; done\n",
    )
    write_service(tmp_path, "polite", "exec sleep 1000\n")
    with wingmate_in_namespace(tmp_path, {"WINGMATE_STOP_TIMEOUT": "1"}) as ns:
        ns.stdout.wait_for(r"stubborn: ready")
        ns.stderr.wait_for(r"polite: started")
        sent_at = time.monotonic()
        ns.signal(signal.SIGTERM)
        code = ns.wait(timeout_s=10)
        elapsed = time.monotonic() - sent_at
        assert code == 0
        assert 1.0 <= elapsed < 3.0, f"shutdown took {elapsed:.2f}s"
        assert "sending SIGKILL" in ns.stderr.text()
        assert "shutdown complete; exiting with code 0" in ns.stderr.text()


def test_prompt_services_stop_quickly(tmp_path: Path) -> None:
    """Services that exit on SIGTERM let shutdown end well before any grace."""
    for index in range(5):
        write_service(tmp_path, f"svc{index}", "exec sleep 1000\n")
    with wingmate_in_namespace(tmp_path) as ns:
        ns.stderr.wait_for(r"started, pid", count=5)
        sent_at = time.monotonic()
        ns.signal(signal.SIGTERM)
        assert ns.wait(timeout_s=10) == 0
        assert time.monotonic() - sent_at < 1.0


def test_critical_service_exit_code_becomes_wingmates(tmp_path: Path) -> None:
    """When a critical service exits with 7, wingmate stops the rest and exits 7."""
    (tmp_path / "wingmate.yaml").write_text(
        "service:\n"
        "  main:\n"
        "    command: [sh, -c, 'sleep 0.3; exit 7']\n"
        "    critical: true\n"
        "  helper:\n"
        "    command: [sleep, '1000']\n"
    )
    with wingmate_in_namespace(tmp_path) as ns:
        assert ns.wait(timeout_s=10) == 7
        assert "critical service exited with code 7" in ns.stderr.text()


def test_sigusr1_is_forwarded_to_services(tmp_path: Path) -> None:
    """SIGUSR1 sent to wingmate reaches every running service."""
    write_service(
        tmp_path,
        "listener",
        "trap 'echo got usr1' USR1\necho ready\nwhile true; do sleep 0.05; done\n",
    )
    with wingmate_in_namespace(tmp_path) as ns:
        ns.stdout.wait_for(r"listener: ready")
        ns.signal(signal.SIGUSR1)
        ns.stdout.wait_for(r"listener: got usr1")


def test_grandchild_holding_the_pipe_does_not_delay_restart(tmp_path: Path) -> None:
    """A service whose background child keeps stdout open is restarted when it exits."""
    write_service(
        tmp_path,
        "leaky",
        "sleep 1000 &\necho run\nexit 1\n",
    )
    with wingmate_in_namespace(tmp_path, {"WINGMATE_STABLE_WINDOW": "0"}) as ns:
        ns.stdout.wait_for(r"leaky: run", count=3, timeout_s=5)


def context_switches(pid: int) -> int:
    with open(f"/proc/{pid}/status") as file:
        fields = dict(line.split(":", 1) for line in file)
    return int(fields["voluntary_ctxt_switches"]) + int(
        fields["nonvoluntary_ctxt_switches"]
    )


def test_idle_wingmate_does_not_wake_up(tmp_path: Path) -> None:
    """With 10 quiet services and no jobs, wingmate sleeps: no periodic wake-ups."""
    for index in range(10):
        write_service(tmp_path, f"quiet{index}", "exec sleep 1000\n")
    with wingmate_in_namespace(tmp_path) as ns:
        ns.stderr.wait_for(r"started, pid", count=10)
        wait_until(lambda: state_of(ns.host_pid) == "S", what="wingmate to sleep")
        before = context_switches(ns.host_pid)
        time.sleep(2)  # the observation window, not a wait for a condition
        assert context_switches(ns.host_pid) == before


def test_leftover_processes_are_ended_when_wingmate_is_init(tmp_path: Path) -> None:
    """A daemon that left its service's process group is still ended at shutdown."""
    write_service(
        tmp_path,
        "escaper",
        "setsid sh -c 'trap \"\" TERM; echo escaped\n"
        "while true; do sleep 0.05; done' &\n"
        "exec sleep 1000\n",
    )
    with wingmate_in_namespace(tmp_path) as ns:
        ns.stdout.wait_for(r"escaper: escaped")
        ns.signal(signal.SIGTERM)
        assert ns.wait(timeout_s=10) == 0
        text = ns.stderr.text()
        assert re.search(r"sending SIGTERM to \d+ leftover processes", text)
        assert "still running after SIGTERM; sending SIGKILL" in text


def test_missing_program_is_an_error_and_retried(tmp_path: Path) -> None:
    """A service whose program is missing logs an error and is retried with backoff."""
    (tmp_path / "wingmate.yaml").write_text(
        "service:\n  ghost:\n    command: [/no/such/program]\n"
    )
    with wingmate_in_namespace(tmp_path) as ns:
        ns.stderr.wait_for(r"ERROR ghost: cannot start: .*/no/such/program: not found")
        ns.stderr.wait_for(r"WARNING ghost: could not start .*restarting in", count=2)


def test_critical_service_that_cannot_start_ends_wingmate_with_127(
    tmp_path: Path,
) -> None:
    """A critical service whose program is missing makes wingmate exit 127."""
    (tmp_path / "wingmate.yaml").write_text(
        "service:\n"
        "  ghost:\n    command: [/no/such/program]\n    critical: true\n"
        "  other:\n    command: [sleep, '1000']\n"
    )
    with wingmate_in_namespace(tmp_path) as ns:
        assert ns.wait(timeout_s=10) == 127
