"""Cron jobs under wingmate: on time, skipped while running, timed out."""

from __future__ import annotations

import re
from pathlib import Path

from nsrun import wingmate_in_namespace


def test_seconds_job_fires_on_time(tmp_path: Path) -> None:
    """A job scheduled every second starts within a few ms of each second."""
    (tmp_path / "crontab").write_text("* * * * * * echo tick\n")
    with wingmate_in_namespace(tmp_path) as ns:
        matches = ns.stderr.wait_for(
            r"crontab:1: started, pid \d+ \((\d+\.\d) ms after its time\)",
            count=3,
            timeout_s=10,
        )
        ns.stdout.wait_for(r"crontab:1: tick", count=2)
    lateness = [float(match.group(1)) for match in matches]
    assert max(lateness) < 100, lateness


def test_job_still_running_is_skipped(tmp_path: Path) -> None:
    """A job that outlives its interval has its next run skipped with a warning."""
    (tmp_path / "wingmate.yaml").write_text(
        "cron:\n  slow:\n    command: [sleep, '2.5']\n    schedule: '* * * * * *'\n"
    )
    with wingmate_in_namespace(tmp_path) as ns:
        ns.stderr.wait_for(
            r"slow: still running \(pid \d+\) .*skipping this run", timeout_s=5
        )
        ns.stderr.wait_for(r"slow: finished after 2\.\d+s", timeout_s=5)
        starts = re.findall(r"slow: started", ns.stderr.text())
        assert len(starts) == 1


def test_job_past_its_timeout_is_stopped(tmp_path: Path) -> None:
    """A job running past its timeout gets SIGTERM and its end is logged."""
    (tmp_path / "wingmate.yaml").write_text(
        "cron:\n"
        "  hung:\n"
        "    command: [sleep, '1000']\n"
        "    schedule: '@reboot'\n"
        "    timeout: 0.3s\n"
    )
    with wingmate_in_namespace(tmp_path) as ns:
        ns.stderr.wait_for(r"hung: still running after its timeout")
        ns.stderr.wait_for(r"hung: killed by SIGTERM after 0\.\d+s \(timed out\)")


def test_each_job_end_is_logged_with_status(tmp_path: Path) -> None:
    """A failing job's exit code is logged as a warning."""
    (tmp_path / "wingmate.yaml").write_text(
        "cron:\n"
        "  failing:\n"
        "    command: [sh, -c, 'exit 4']\n"
        "    schedule: '@reboot'\n"
        "  keeper:\n"
        "    command: [sleep, '1000']\n"
        "    schedule: '@reboot'\n"
    )
    with wingmate_in_namespace(tmp_path) as ns:
        ns.stderr.wait_for(r"WARNING failing: exited with code 4 after")


def test_overlap_allow_starts_a_second_run(tmp_path: Path) -> None:
    """With overlap: allow, a job still running does not hold back its next run."""
    (tmp_path / "wingmate.yaml").write_text(
        "cron:\n"
        "  slow:\n"
        "    command: [sleep, '2.5']\n"
        "    schedule: '* * * * * *'\n"
        "    overlap: allow\n"
    )
    with wingmate_in_namespace(tmp_path) as ns:
        ns.stderr.wait_for(r"slow: started", count=2, timeout_s=5)
        assert "skipping this run" not in ns.stderr.text()
