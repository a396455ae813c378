"""wingmate's command line: check, version, configuration errors, log format."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from nsrun import Output

REPO = Path(__file__).resolve().parents[2]
WINGMATE = str(REPO / "wingmate.py")


def run_wingmate(
    *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("WINGMATE_")}
    return subprocess.run(
        [sys.executable, WINGMATE, *args],
        capture_output=True,
        text=True,
        timeout=30,
        env={**base, **(env or {})},
    )


def test_version_prints_the_version() -> None:
    """--version prints 'wingmate X.Y.Z' and exits 0."""
    from _common import __version__

    result = run_wingmate("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"wingmate {__version__}"


def test_bad_configuration_exits_2_with_file_and_line(tmp_path: Path) -> None:
    """A broken crontab and a typo in wingmate.yaml both fail before anything runs."""
    (tmp_path / "crontab").write_text("* * * * * /bin/true\n*/5 * * * /bin/true\n")
    (tmp_path / "wingmate.yaml").write_text(
        "service:\n  web:\n    command: [sleep, '100']\n    stop_timeot: 3\n"
    )
    result = run_wingmate("--config", str(tmp_path))
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(errors) == 2
    assert errors[0].startswith(f"wingmate: error: {tmp_path / 'crontab'}:2:")
    assert errors[1].startswith(f"wingmate: error: {tmp_path / 'wingmate.yaml'}:4:")
    assert "started, pid" not in result.stderr


def test_missing_configuration_names_the_directory(tmp_path: Path) -> None:
    """With no configuration at all, the error names where wingmate looked."""
    result = run_wingmate(env={"WINGMATE_CONFIG_PATH": str(tmp_path / "none")})
    assert result.returncode == 2
    assert str(tmp_path / "none") in result.stderr


def test_check_lists_services_jobs_and_next_runs(tmp_path: Path) -> None:
    """check prints each service and job with three next run times, and exits 0."""
    (tmp_path / "crontab").write_text("0 3 * * * /usr/bin/backup\n")
    (tmp_path / "wingmate.yaml").write_text(
        "service:\n  web:\n    command: [sleep, '100']\n"
    )
    result = run_wingmate("check", "--config", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "web: sleep 100" in result.stdout
    assert "crontab:1: [0 3 * * *] /usr/bin/backup" in result.stdout
    assert result.stdout.count("next: ") == 3


def test_check_rejects_what_run_rejects(tmp_path: Path) -> None:
    """check exits 2 on the same errors, so a Dockerfile RUN line fails the build."""
    (tmp_path / "crontab").write_text("61 * * * * /bin/true\n")
    result = run_wingmate("check", "--config", str(tmp_path))
    assert result.returncode == 2
    assert f"{tmp_path / 'crontab'}:1:" in result.stderr


def test_json_log_format_gives_one_object_per_line(tmp_path: Path) -> None:
    """WINGMATE_LOG_FORMAT=json turns log lines into JSON with the service name."""
    (tmp_path / "wingmate.yaml").write_text(
        "service:\n  once:\n    command: [echo, hi]\n    restart: never\n"
    )
    result = run_wingmate(
        "--config", str(tmp_path), env={"WINGMATE_LOG_FORMAT": "json"}
    )
    assert result.returncode == 0
    records = [json.loads(line) for line in result.stderr.splitlines()]
    assert {"program", "pid", "level", "service", "message", "time"} <= set(records[0])
    assert any(
        r["service"] == "once" and r["message"].startswith("started") for r in records
    )
    (output,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert (output["service"], output["message"]) == ("once", "hi")


def test_wingmate_exits_when_nothing_is_left_to_run(tmp_path: Path) -> None:
    """When every service ended for good and there are no jobs, wingmate exits 0."""
    (tmp_path / "wingmate.yaml").write_text(
        "service:\n"
        "  ok:\n    command: ['true']\n    restart: on-failure\n"
        "  once:\n    command: ['false']\n    restart: never\n"
    )
    result = run_wingmate("--config", str(tmp_path))
    assert result.returncode == 1, "a service that failed makes the exit code 1"
    assert "ok: exited with code 0; not restarting (restart: on-failure)" in (
        result.stderr
    )
    assert "every service has ended for good" in result.stderr


def test_not_as_init_it_reaps_orphans_as_subreaper(tmp_path: Path) -> None:
    """Outside a namespace, a service's orphan is re-parented to wingmate and reaped."""
    (tmp_path / "wingmate.yaml").write_text(
        "service:\n"
        "  parent:\n"
        "    command: [sh, -c, 'sleep 0.2 & echo orphan $!; exit 0']\n"
        "    restart: never\n"
        "  keeper:\n"
        "    command: [sleep, '100']\n"
    )
    process = subprocess.Popen(
        [sys.executable, WINGMATE, "--config", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "WINGMATE_LOG_LEVEL": "DEBUG"},
    )
    stdout, stderr = Output(process.stdout), Output(process.stderr)
    try:
        orphan = stdout.wait_for(r"parent: orphan (\d+)")[0].group(1)
        stderr.wait_for(rf"reaped orphan pid {orphan} \(exited with code 0\)")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
