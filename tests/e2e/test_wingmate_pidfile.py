"""Services with ``pidfile:``: forking daemons supervised through wmpidproxy."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from nsrun import wait_until, wingmate_in_namespace
from sshd import make_sshd, ssh_banner

DAEMON = Path(__file__).resolve().parent / "daemons" / "forking_daemon.py"


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def test_killed_sshd_is_back_as_a_new_daemon(tmp_path: Path) -> None:
    """When sshd is killed, wingmate restarts it and a new daemon serves the port."""
    sshd = make_sshd(tmp_path)
    pid_file, port = sshd.pid_file, sshd.port
    command = ", ".join(f"'{word}'" for word in sshd.command)
    (tmp_path / "wingmate.yaml").write_text(
        f"service:\n  sshd:\n    command: [{command}]\n    pidfile: {pid_file}\n"
    )
    with wingmate_in_namespace(tmp_path, {"WINGMATE_STABLE_WINDOW": "0"}) as ns:
        wait_until(lambda: read_pid(pid_file) is not None, what="sshd's pid file")
        first = read_pid(pid_file)
        assert first is not None
        assert ssh_banner(port).startswith(b"SSH-2.0-")

        os.kill(ns.host_pid_of(first), signal.SIGKILL)

        wait_until(
            lambda: read_pid(pid_file) not in (None, first),
            what="a new sshd pid in the pid file",
        )
        assert ssh_banner(port).startswith(b"SSH-2.0-")
        ns.stderr.wait_for(r"sshd: exited with code 137; restarting now")

        ns.signal(signal.SIGTERM)
        assert ns.wait() == 0


def test_daemon_behind_pidfile_is_stopped_on_shutdown(tmp_path: Path) -> None:
    """At shutdown the daemon itself gets the stop signal through wmpidproxy."""
    pid_file = tmp_path / "daemon.pid"
    events = tmp_path / "events"
    (tmp_path / "wingmate.yaml").write_text(
        "service:\n"
        "  legacy:\n"
        f"    command: ['{sys.executable}', '{DAEMON}', --pid-file, '{pid_file}',"
        f" --events, '{events}']\n"
        f"    pidfile: {pid_file}\n"
    )
    with wingmate_in_namespace(tmp_path) as ns:
        ns.stderr.wait_for(r"daemon running with pid \d+")
        ns.signal(signal.SIGTERM)
        assert ns.wait() == 0
        assert "SIGTERM" in events.read_text()
        assert "sending SIGKILL" not in ns.stderr.text()
